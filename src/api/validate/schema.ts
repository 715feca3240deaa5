/**
 * The shape of the generated Engine API schema (engine-api-schema.ts): each node says how
 * Go's encoding/json decodes a JSON value into the field dockerd declares, which is what a
 * request must satisfy to be accepted.
 */
export type SchemaNode =
  | { k: 'str' }
  | { k: 'bool' }
  /** go: the Go integer type (int, int64, uint16, ...), which bounds the value */
  | { k: 'int'; go: string }
  | { k: 'num' }
  | { k: 'any' }
  /** strslice.StrSlice: a JSON string is taken as a one-element list */
  | { k: 'strslice' }
  | { k: 'arr'; of: SchemaNode }
  | { k: 'map'; of: SchemaNode }
  /** a Go struct: name is its Go type name, as dockerd's errors print it */
  | { k: 'obj'; name: string; props: Record<string, SchemaNode> }
  | { k: 'ref'; ref: string };

/** A query parameter: a scalar, or JSON decoded into a node (label prefixes dockerd's error). */
export type QueryParamSchema =
  | { k: 'int'; go: string }
  | { k: 'bool' }
  | { k: 'str' }
  | { json: { k: 'filters' } | (SchemaNode & { label?: string }) };

export interface OperationSchema {
  method: string;
  /** as in the reference: /containers/{id}/json */
  path: string;
  params: string[];
  query: Record<string, QueryParamSchema>;
  body?: SchemaNode;
}

export interface EngineApiSchema {
  version: string;
  definitions: Record<string, SchemaNode>;
  operations: OperationSchema[];
}
