/**
 * Derivations from the key declaration (`keys.ts`): the file's JSON Schema, the built-in defaults and
 * a flat list of keys (for environment overrides and the generated documentation).
 */
import { X_ENV, X_ONLY } from './keys';

/** A JSON Schema node as plain data (TypeBox's symbol markers are not part of it). */
export type SchemaNode = Record<string, unknown> & {
  type?: unknown;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  default?: unknown;
  description?: string;
};

/** Plain-data copy (drops TypeBox's symbol-keyed markers, which are not JSON Schema). */
function plain(schema: unknown): SchemaNode {
  return JSON.parse(JSON.stringify(schema)) as SchemaNode;
}

function isSection(node: SchemaNode): boolean {
  return node.type === 'object' && node.properties !== undefined;
}

/**
 * The JSON Schema of the configuration *file*: every key optional (defaults are applied after
 * validation), no defaults or environment annotations, and each `x-only` key kept only in the
 * section of the backend it belongs to.
 */
export function fileSchema(declaration: unknown): SchemaNode {
  const strip = (node: SchemaNode, name: string | undefined): SchemaNode => {
    delete node.required;
    delete node.default;
    delete node[X_ENV];
    delete node[X_ONLY];
    if (node.properties) {
      for (const [key, child] of Object.entries(node.properties)) {
        const only = child[X_ONLY];
        if (only !== undefined && only !== name) delete node.properties[key];
        else node.properties[key] = strip(child, key);
      }
    }
    for (const k of ['items', 'additionalProperties', 'propertyNames']) {
      const sub = node[k];
      if (sub !== null && typeof sub === 'object') node[k] = strip(sub as SchemaNode, undefined);
    }
    return node;
  };
  return strip(plain(declaration), undefined);
}

/** A fresh copy of every declared default (a section's default is the object of its keys' defaults). */
export function defaultsOf(declaration: unknown): Record<string, unknown> {
  const walk = (node: SchemaNode): unknown => {
    if (isSection(node)) {
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(node.properties ?? {})) {
        const v = walk(child);
        if (v !== undefined) out[key] = v;
      }
      return out;
    }
    return node.default === undefined ? undefined : structuredClone(node.default);
  };
  return walk(plain(declaration)) as Record<string, unknown>;
}

export interface KeyInfo {
  /** `['server', 'port']`. */
  path: string[];
  /** The key's schema (plain data, with `default`, `description` and annotations). */
  schema: SchemaNode;
  /** The description of the section the key sits in. */
  section?: string;
  /** False for keys without a default ("unset" is a valid state). */
  required: boolean;
}

/** Every leaf key in declaration order (`backends.claude.*`, `backends.codex.*`, … each listed). */
export function listKeys(declaration: unknown): KeyInfo[] {
  const out: KeyInfo[] = [];
  const walk = (node: SchemaNode, path: string[]): void => {
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      const only = child[X_ONLY];
      if (only !== undefined && only !== path[path.length - 1]) continue;
      const p = [...path, key];
      if (isSection(child)) walk(child, p);
      else
        out.push({ path: p, schema: child, section: node.description, required: (node.required ?? []).includes(key) });
    }
  };
  walk(plain(declaration), []);
  return out;
}
