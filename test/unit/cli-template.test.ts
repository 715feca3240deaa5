import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { renderTemplate, Template, TemplateError, headerFuncs } from '../../src/cli/template';

const data = {
  Name: '/web',
  State: { Status: 'running', Pid: 42, Running: true },
  Config: { Labels: { a: '1', 'com.example.x': 'y' }, Env: ['A=1', 'B=2'], Tty: false, Empty: [] as string[] },
  Num: 1.5,
};

test('fields, nested fields and missing map keys', () => {
  assert.equal(renderTemplate('{{.Name}} {{.State.Status}} {{.State.Pid}}', data), '/web running 42');
  assert.equal(renderTemplate('{{.Nope}}', data), '<no value>');
  assert.throws(() => renderTemplate('{{.Nope}}', data, { missingKey: 'error' }), /map has no entry for key "Nope"/);
});

test('json, index, join, len, case functions', () => {
  assert.equal(renderTemplate('{{json .Config.Labels}}', data), '{"a":"1","com.example.x":"y"}');
  assert.equal(renderTemplate('{{json .}}', { a: '<b>' }), '{"a":"<b>"}');
  assert.equal(renderTemplate('{{index .Config.Labels "com.example.x"}}', data), 'y');
  assert.equal(renderTemplate('{{index .Config.Labels "missing"}}', data), '');
  assert.equal(renderTemplate('{{join .Config.Env ","}}', data), 'A=1,B=2');
  assert.equal(renderTemplate('{{len .Config.Env}}', data), '2');
  assert.equal(renderTemplate('{{upper .Name}} {{lower "AbC"}} {{title "hello big world"}}', data), '/WEB abc Hello Big World');
  assert.equal(renderTemplate('{{.Name | upper | lower}}', data), '/web');
  assert.equal(renderTemplate('{{.Config.Env | json}}', data), '["A=1","B=2"]');
});

test('range, if/else if/else, with, variables', () => {
  assert.equal(renderTemplate('{{range .Config.Env}}[{{.}}]{{end}}', data), '[A=1][B=2]');
  assert.equal(renderTemplate('{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}', data), 'a=1;com.example.x=y;');
  assert.equal(renderTemplate('{{range $i, $e := .Config.Env}}{{$i}}:{{$e}} {{end}}', data), '0:A=1 1:B=2 ');
  assert.equal(renderTemplate('{{range .Config.Empty}}x{{else}}none{{end}}', data), 'none');
  assert.equal(renderTemplate('{{if .Config.Tty}}tty{{else if eq .State.Status "running"}}run{{else}}other{{end}}', data), 'run');
  assert.equal(renderTemplate('{{if and .State.Running (not .Config.Tty)}}yes{{end}}', data), 'yes');
  assert.equal(renderTemplate('{{with .State}}{{.Status}}{{end}}', data), 'running');
  assert.equal(renderTemplate('{{$p := .State.Pid}}{{$p}}-{{$.Name}}', data), '42-/web');
  assert.equal(renderTemplate('{{range .Config.Env}}{{if eq . "B=2"}}{{break}}{{end}}{{.}}{{end}}', data), 'A=1');
});

test('printf, println, print and value formatting', () => {
  assert.equal(renderTemplate('{{printf "%s|%d|%5.2f|%-4s|%q" .Name .State.Pid .Num "x" "q"}}', data), '/web|42| 1.50|x   |"q"');
  assert.equal(renderTemplate('{{println .Name}}', data), '/web\n');
  assert.equal(renderTemplate('{{print 1 2 "a" "b"}}', data), '1 2ab');
  assert.equal(renderTemplate('{{.Config.Env}} {{.Config.Labels}}', data), '[A=1 B=2] map[a:1 com.example.x:y]');
  assert.equal(renderTemplate('{{.Gone}}', { Gone: null }), '<nil>');
});

test('trim markers, comments and parenthesised pipelines', () => {
  assert.equal(renderTemplate('a  {{- " b " -}}  c', data), 'a b c');
  assert.equal(renderTemplate('{{/* a comment */}}ok', data), 'ok');
  assert.equal(renderTemplate('{{(index .Config.Env 1) | printf "%q"}}', data), '"B=2"');
});

test('struct contexts: methods with arguments, unknown fields are errors', () => {
  class Ctx {
    Names() {
      return 'web';
    }
    Label(k: string) {
      return k === 'a' ? '1' : '';
    }
  }
  assert.equal(renderTemplate('{{.Names}} {{.Label "a"}}', new Ctx()), 'web 1');
  assert.throws(() => renderTemplate('{{.Foo}}', new Ctx()), (e: unknown) => e instanceof TemplateError && /can't evaluate field Foo/.test(e.message));
});

test('header functions pass values through', () => {
  const t = new Template('{{.Names | upper}} {{json .ID}}');
  assert.equal(t.execute({ Names: 'NAMES', ID: 'CONTAINER ID' }, { funcs: headerFuncs }), 'NAMES CONTAINER ID');
});

test('parse errors name the problem', () => {
  assert.throws(() => new Template('{{foo .X}}'), /function "foo" not defined/);
  assert.throws(() => new Template('{{if .X}}no end'), /unexpected EOF/);
  assert.throws(() => new Template('{{.X'), /unclosed action/);
  assert.throws(() => new Template('{{end}}'), /unexpected \{\{end\}\}/);
});
