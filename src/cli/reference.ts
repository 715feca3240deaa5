/**
 * Image references for the CLI: the daemon's parser (src/image/reference.ts) in the shape
 * the commands use — the fully qualified name for API queries, the familiar form for
 * messages — with its errors turned into the CLI's own error type.
 */
import { familiarName as familiarOf, parseReference } from '../image/reference';

export interface ImageRef {
  /** Fully qualified repository: docker.io/library/busybox. */
  name: string;
  /** Familiar repository: busybox. */
  familiarName: string;
  tag?: string;
  digest?: string;
}

export class ReferenceError extends Error {}

export function parseImageRef(s: string): ImageRef {
  let ref;
  try {
    ref = parseReference(s);
  } catch (e) {
    throw new ReferenceError((e as Error).message);
  }
  return { name: `${ref.domain}/${ref.path}`, familiarName: familiarOf(ref), tag: ref.tag, digest: ref.digest };
}

/** The registry host of a parsed reference: "docker.io" for Docker Hub names, else "host[:port]". */
export function registryDomain(ref: ImageRef): string {
  return ref.name.slice(0, ref.name.indexOf('/'));
}

/** docker.io/library/busybox → busybox; docker.io/me/app → me/app; others unchanged. */
export function familiarName(name: string): string {
  return parseImageRef(name).familiarName;
}

/** The familiar string with tag and/or digest ("busybox:latest", "me/app@sha256:..."). */
export function familiarString(ref: ImageRef): string {
  return ref.familiarName + (ref.tag ? `:${ref.tag}` : '') + (ref.digest ? `@${ref.digest}` : '');
}

/** Adds ":latest" when there is neither a tag nor a digest (docker's TagNameOnly). */
export function withDefaultTag(ref: ImageRef): ImageRef {
  return ref.tag || ref.digest ? ref : { ...ref, tag: 'latest' };
}
