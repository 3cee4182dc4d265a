/** API style of a path, decided by the prefix alone. */
export type ApiStyle = 'native' | 'openai' | 'anthropic';

export function apiStyleOf(path: string): ApiStyle {
  if (path === '/openai' || path.startsWith('/openai/')) return 'openai';
  if (path === '/anthropic' || path.startsWith('/anthropic/')) return 'anthropic';
  return 'native';
}
