import type { Rule } from 'eslint';

export function zoneOf(path: string): { zone: string; stage?: string };
export function refusal(
  fromPath: string,
  target: { kind: 'file'; path: string } | { kind: 'package'; name: string },
  options: { typeOnly: boolean; dynamic: boolean },
): string | null;
declare const rule: Rule.RuleModule;
export default rule;
