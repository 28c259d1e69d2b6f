/**
 * The queryable taxonomy built from merged nodes: lookup, paths, ancestors, descendants. Nodes
 * and their arrays are frozen because loadTaxonomy hands one cached instance to every caller.
 */
import { TaxonomyError } from './errors.js';
import type { TermLocation } from './errors.js';
import type { Taxonomy, TaxonomyNode, TaxonomyTree } from './types.js';

/** Lookup key of a term: case and surrounding/repeated whitespace do not matter. */
export function normalizeTerm(term: string): string {
  return term.trim().replace(/\s+/g, ' ').toLowerCase();
}

function nodeKey(tree: TaxonomyTree, term: string): string {
  return `${tree}\u0000${normalizeTerm(term)}`;
}

/** Plain edit distance; the taxonomy has ~300 short terms, so brute force is instant. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/** Nodes as the parser merged them, in order of first appearance; edges name terms. */
export type NodeSpec = TaxonomyNode;

export function buildTaxonomy(source: string, specs: readonly NodeSpec[]): Taxonomy {
  const all: readonly TaxonomyNode[] = Object.freeze(
    specs.map((spec) =>
      Object.freeze({
        ...spec,
        altCuis: Object.freeze([...spec.altCuis]),
        parents: Object.freeze([...spec.parents]),
        children: Object.freeze([...spec.children]),
      }),
    ),
  );
  const order = new Map<TaxonomyNode, number>(all.map((node, index) => [node, index]));
  const byKey = new Map<string, TaxonomyNode>(all.map((node) => [nodeKey(node.tree, node.term), node]));
  const byTerm = new Map<string, TaxonomyNode[]>();
  for (const node of all) {
    const key = normalizeTerm(node.term);
    byTerm.set(key, [...(byTerm.get(key) ?? []), node]);
  }
  const inSourceOrder = (nodes: Iterable<TaxonomyNode>): TaxonomyNode[] =>
    [...nodes].sort((a, b) => order.get(a)! - order.get(b)!);
  const roots = Object.freeze(all.filter((node) => node.isRoot));

  function get(term: string, tree?: TaxonomyTree): TaxonomyNode | undefined {
    if (tree !== undefined) return byKey.get(nodeKey(tree, term));
    const found = byTerm.get(normalizeTerm(term)) ?? [];
    if (found.length > 1) {
      const trees = found.map((node) => node.tree).join(', ');
      throw new TaxonomyError(
        'AMBIGUOUS_TERM',
        `PadChest term "${term}" is in several trees (${trees}); say which one.`,
        { term },
      );
    }
    return found[0];
  }

  /** The known term closest to an unknown one: same tree preferred on ties, then source order. */
  function nearest(term: string, tree?: TaxonomyTree): TermLocation | undefined {
    const wanted = normalizeTerm(term);
    let best: { node: TaxonomyNode; score: number } | undefined;
    for (const node of all) {
      const score =
        editDistance(wanted, normalizeTerm(node.term)) + (tree === undefined || node.tree === tree ? 0 : 0.5);
      if (best === undefined || score < best.score) best = { node, score };
    }
    return best && { term: best.node.term, tree: best.node.tree };
  }

  function mustGet(term: string, tree?: TaxonomyTree): TaxonomyNode {
    const node = get(term, tree);
    if (node) return node;
    const where = tree === undefined ? 'PadChest term' : `PadChest ${tree} term`;
    // The same term in another tree is the likeliest mistake (a diagnosis given as a finding).
    const elsewhere = tree === undefined ? undefined : byTerm.get(normalizeTerm(term))?.[0];
    const near = elsewhere ? { term: elsewhere.term, tree: elsewhere.tree } : nearest(term, tree);
    const hint = elsewhere
      ? `it is in the ${elsewhere.tree} tree`
      : near
        ? `the nearest is "${near.term}" in the ${near.tree} tree`
        : 'the taxonomy is empty';
    throw new TaxonomyError('UNKNOWN_TERM', `Unknown ${where} "${term}"; ${hint}.`, { term, tree, nearest: near });
  }

  const pathMemo = new Map<TaxonomyNode, TaxonomyNode[][]>();
  function nodePaths(node: TaxonomyNode): TaxonomyNode[][] {
    const memo = pathMemo.get(node);
    if (memo) return memo;
    // The parser has rejected cycles, so this recursion ends; a parentless non-root cannot exist.
    const paths =
      node.parents.length === 0
        ? [[node]]
        : node.parents.flatMap((parent) =>
            nodePaths(byKey.get(nodeKey(node.tree, parent))!).map((path) => [...path, node]),
          );
    // Deterministic order independent of how parents were listed: compare paths node by node.
    paths.sort((a, b) => {
      for (let i = 0; i < Math.min(a.length, b.length); i++) {
        const difference = order.get(a[i])! - order.get(b[i])!;
        if (difference !== 0) return difference;
      }
      return a.length - b.length;
    });
    pathMemo.set(node, paths);
    return paths;
  }

  function closure(start: TaxonomyNode, step: (node: TaxonomyNode) => readonly string[]): string[] {
    const seen = new Set<TaxonomyNode>();
    const queue = [start];
    while (queue.length > 0) {
      for (const term of step(queue.pop()!)) {
        const next = byKey.get(nodeKey(start.tree, term))!;
        if (!seen.has(next)) {
          seen.add(next);
          queue.push(next);
        }
      }
    }
    return inSourceOrder(seen).map((node) => node.term);
  }

  return {
    source,
    roots,
    nodes: (tree) => (tree === undefined ? all : all.filter((node) => node.tree === tree)),
    get,
    has: (term, tree) => (tree === undefined ? byTerm.has(normalizeTerm(term)) : byKey.has(nodeKey(tree, term))),
    require: mustGet,
    pathsFromRoot: (term, tree) => nodePaths(mustGet(term, tree)).map((path) => path.map((node) => node.term)),
    ancestors: (term, tree) => closure(mustGet(term, tree), (node) => node.parents),
    descendants: (term, tree) => closure(mustGet(term, tree), (node) => node.children),
  };
}
