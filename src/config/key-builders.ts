/**
 * The builders every configuration key is declared with (`keys.ts`): TypeBox schemas that require
 * a description, and the custom annotation keywords ajv must know (see `schema.ts`).
 */
import { type SchemaOptions, type TSchema, Type } from '@sinclair/typebox';
import { MODEL_MAX_LENGTH, MODEL_PATTERN } from '../backends/model-and-prompt';
import type { BackendName } from '../backends/types';

/** Annotation keywords (ajv must know them; see `schema.ts`). */
export const X_MESSAGE = 'x-message';
export const X_ENV = 'x-env';
export const X_ONLY = 'x-only';

/** Options every key takes: a description is mandatory (a test checks that none is missing). */
export interface KeyOptions extends SchemaOptions {
  description: string;
  [X_MESSAGE]?: string;
  [X_ENV]?: string;
  [X_ONLY]?: BackendName;
}

export const str = (o: KeyOptions) => Type.String(o);
/** A string without U+0000. */
export const text = (o: KeyOptions) =>
  Type.String({ pattern: '^[^\\u0000]*$', [X_MESSAGE]: 'must not contain U+0000', ...o });
export const bool = (o: KeyOptions) => Type.Boolean(o);
export const int = (o: KeyOptions) => Type.Integer(o);
/** A timeout or interval in whole seconds (≥ 1). */
export const secs = (o: KeyOptions) => Type.Integer({ minimum: 1, ...o });
/** `{type: string, enum}` (not TypeBox's `anyOf` of literals: ajv's `enum` message is the one users see). */
export const oneOf = <T extends string>(values: readonly T[], o: KeyOptions) =>
  Type.Unsafe<T>({ type: 'string', enum: [...values], ...o });
export const list = <T extends TSchema>(items: T, o: KeyOptions) => Type.Array(items, o);
export const section = <P extends Record<string, TSchema>>(description: string, properties: P) =>
  Type.Object(properties, { additionalProperties: false, description });

export const modelName = (o?: KeyOptions) =>
  Type.String({
    minLength: 1,
    maxLength: MODEL_MAX_LENGTH,
    pattern: MODEL_PATTERN.source,
    [X_MESSAGE]: `must match the model pattern ${MODEL_PATTERN.source}`,
    ...o,
  });
export const absolutePath = () =>
  Type.String({ minLength: 1, format: 'absolute-path', [X_MESSAGE]: 'must be an absolute path' });
