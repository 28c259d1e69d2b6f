/**
 * Triage: the priority of an analysed image, and so of its study, from rules placed on nodes of
 * the PadChest taxonomy.
 *
 * Priorities, most urgent first: critical > urgent > abnormal > needs review > normal.
 * "Needs review" (an image the models could not assess: rejected by the input gate, or a broken
 * file) ranks above "normal" on purpose: a normal call is the only one the models vouch for, and
 * an image nobody has assessed must never wait behind one that has been. It ranks below abnormal
 * because a positive finding is evidence and an unassessed image is not. A site where rejected
 * views (laterals) should not lift their study can map `rejected` to "normal" in its rules file;
 * broken files (`error`) stay visible as they are.
 *
 * Rules: a rule on a node applies to that node and all its descendants. For each positive finding
 * a model called (direct findings; the parents they roll up to are implied by them), the most
 * specific matching rule wins, i.e. the rule whose node is nearest above the finding (so a site
 * may say "mass: urgent" but "breast mass: abnormal"); rules at the same distance give the higher
 * priority. A positive finding no rule matches gets `otherPositive`; an image with no positive
 * finding gets `noPositive`. An image's priority is the highest over its findings; a study's is
 * the highest over its images and is never lowered by a later image.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { PrioritySchema, TreeSchema } from '../domain/index.js';
import type { AnalysisResult } from '../domain/index.js';
import { describeIssues, TriageError } from '../errors/index.js';
import { loadTaxonomy } from '../taxonomy/index.js';
import type { Taxonomy } from '../taxonomy/index.js';
import { PRIORITIES } from '../common/index.js';
import type { Priority } from '../common/index.js';

/** 0 for critical ... 4 for normal: smaller is more urgent. */
export function priorityRank(priority: Priority): number {
  return PRIORITIES.indexOf(priority);
}

export function higherPriority(a: Priority, b: Priority): Priority {
  return priorityRank(a) <= priorityRank(b) ? a : b;
}

export function isPriority(value: unknown): value is Priority {
  return typeof value === 'string' && (PRIORITIES as readonly string[]).includes(value);
}

export const RulesFile = z
  .object({
    version: z.literal(1),
    rules: z
      .array(
        z
          .object({
            term: z.string().min(1),
            tree: TreeSchema.optional(),
            priority: PrioritySchema,
          })
          .strict(),
      )
      .default([]),
    otherPositive: PrioritySchema.default('abnormal'),
    noPositive: PrioritySchema.default('normal'),
    rejected: PrioritySchema.default('needs review'),
    error: PrioritySchema.default('needs review'),
  })
  .strict();
export type RulesFile = z.infer<typeof RulesFile>;

export const DEFAULT_RULES: RulesFile = {
  version: 1,
  rules: [
    { term: 'pneumothorax', tree: 'finding', priority: 'critical' },
    { term: 'mass', tree: 'finding', priority: 'urgent' },
    { term: 'nodule', tree: 'finding', priority: 'urgent' },
  ],
  otherPositive: 'abnormal',
  noPositive: 'normal',
  rejected: 'needs review',
  error: 'needs review',
};

interface Match {
  priority: Priority;
  distance: number;
}

export interface TriageRules {
  readonly source: string;
  readonly file: RulesFile;
  /** SHA-256 of the canonical rules: stored with each result, so a change of rules is visible. */
  readonly fingerprint: string;
  /** The priority of one analysed image. */
  prioritize(result: Pick<AnalysisResult, 'status' | 'findings'>): Priority;
  /** The rule that decides a positive finding, or undefined (then `otherPositive`). */
  ruleFor(term: string, tree: string): Match | undefined;
}

/** Validates rules against the taxonomy and indexes every covered node by its distance to the rule. */
export function compileRules(file: RulesFile, source = 'rules', taxonomy: Taxonomy = loadTaxonomy()): TriageRules {
  // key `${tree}:${term}` -> best match (nearest rule; on ties the higher priority).
  const index = new Map<string, Match>();
  const consider = (key: string, match: Match) => {
    const known = index.get(key);
    if (
      !known ||
      match.distance < known.distance ||
      (match.distance === known.distance && priorityRank(match.priority) < priorityRank(known.priority))
    ) {
      index.set(key, match);
    }
  };
  file.rules.forEach((rule, i) => {
    let node;
    try {
      node = taxonomy.require(rule.term, rule.tree);
    } catch (error) {
      throw new TriageError('INVALID_RULES', `${source}: rules[${i}].term: ${(error as Error).message}`, {
        file: source,
        cause: error,
      });
    }
    if (node.tree !== 'finding' && node.tree !== 'diagnosis') {
      throw new TriageError(
        'INVALID_RULES',
        `${source}: rules[${i}].term: "${rule.term}" is a ${node.tree} term; rules apply to findings and diagnoses.`,
        { file: source },
      );
    }
    // Breadth-first down the DAG: the shortest distance from the rule's node to each descendant.
    const distances = new Map<string, number>([[node.term, 0]]);
    const queue = [node.term];
    while (queue.length > 0) {
      const term = queue.shift()!;
      for (const child of taxonomy.require(term, node.tree).children) {
        if (!distances.has(child)) {
          distances.set(child, distances.get(term)! + 1);
          queue.push(child);
        }
      }
    }
    for (const [term, distance] of distances)
      consider(`${node.tree}:${term.toLowerCase()}`, { priority: rule.priority, distance });
  });
  const canonical = JSON.stringify({
    ...file,
    rules: file.rules.map((r) => ({ term: r.term.toLowerCase(), tree: r.tree ?? null, priority: r.priority })),
  });
  const fingerprint = createHash('sha256').update(canonical).digest('hex');
  const ruleFor = (term: string, tree: string) => index.get(`${tree}:${term.toLowerCase()}`);
  return {
    source,
    file,
    fingerprint,
    ruleFor,
    prioritize(result) {
      if (result.status === 'rejected') return file.rejected;
      if (result.status === 'error') return file.error;
      const positives = result.findings.filter((f) => f.positive && f.direct);
      if (positives.length === 0) return file.noPositive;
      return positives
        .map((f) => ruleFor(f.term, f.tree)?.priority ?? file.otherPositive)
        .reduce((a, b) => higherPriority(a, b));
    },
  };
}

export function defaultRules(): TriageRules {
  return compileRules(DEFAULT_RULES, 'default rules');
}

/** Reads and validates a rules file (`--rules FILE`). */
export function loadRules(path: string): TriageRules {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new TriageError(
      'INVALID_RULES',
      `The rules file ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}).`,
      { file: path },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new TriageError('INVALID_RULES', `The rules file ${path} is not valid JSON (${(error as Error).message}).`, {
      file: path,
    });
  }
  const parsed = RulesFile.safeParse(json);
  if (!parsed.success)
    throw new TriageError('INVALID_RULES', `The rules file ${path} is invalid: ${describeIssues(parsed.error)}.`, {
      file: path,
    });
  return compileRules(parsed.data, path);
}
