/**
 * crun's reasons for not starting a process, in runc's words.
 *
 * Docker's users and tools read runc's wording: the docker CLI exits 127 when the message says
 * "executable file not found" or "no such file or directory" (lower case) and 126 for
 * "permission denied", and dockerd gives a failed exec the same codes. crun says the same
 * things differently ("executable file `x` not found in $PATH: No such file or directory",
 * "open executable: Permission denied"), so its messages are rewritten to what runc says in
 * the same case; anything else passes unchanged.
 *
 * `argv0` is the process's first argument (crun leaves it out of some messages); `exec` says
 * the process was an exec's (runc then starts with "exec failed: ").
 */
export function inRuncWords(message: string, argv0: string | undefined, exec = false): string {
  const prefix = `${exec ? 'exec failed: ' : ''}unable to start container process: `;
  const notFound = /executable file `(.*?)` not found(?: in \$PATH)?: No such file or directory/.exec(message);
  if (notFound) {
    const name = notFound[1];
    // runc looks a path up with stat(2), a bare name in $PATH
    return name.includes('/') ? `${prefix}exec: "${name}": stat ${name}: no such file or directory` : `${prefix}exec: "${name}": executable file not found in $PATH`;
  }
  if (/^open executable: (Permission denied|Operation not permitted)$/.test(message.trim())) {
    return `${prefix}exec: "${argv0 ?? ''}": permission denied`;
  }
  const chdir = /^chdir `(.*?)`: (.*)$/.exec(message.trim());
  if (chdir) return `${prefix}chdir to cwd ("${chdir[1]}") set in config.json failed: ${chdir[2].toLowerCase()}`;
  return message;
}
