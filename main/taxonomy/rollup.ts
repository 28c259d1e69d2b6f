/**
 * Roll-up: model-level findings made consistent with the taxonomy. A term implies every term
 * above it through every parent (a calcified granuloma is a granuloma and a calcified density),
 * so a parent is positive when any descendant is, even if a model voted the parent itself
 * negative. The result never shows a positive child under a negative parent.
 *
 * Negatives are not pushed down: "no pleural effusion" says nothing new about terms no model
 * scored, and listing every descendant as negative would flood the report.
 */
import type { Taxonomy, TaxonomyNode, TaxonomyTree } from './types.js';

/** The minimum the roll-up needs; the ensemble's Vote fits, and comes back untouched in `evidence`. */
export interface Evidence {
  term: string;
  tree: TaxonomyTree;
  positive: boolean;
}

export interface RolledUpNode<E extends Evidence = Evidence> {
  /** Canonical spelling from the taxonomy, whatever case the evidence used. */
  term: string;
  tree: TaxonomyTree;
  cui: string | null;
  positive: boolean;
  /** A model scored this term itself (evidence is not empty). */
  direct: boolean;
  /** The input items for this term (several when the input names it more than once). */
  evidence: E[];
  /** Some direct evidence said negative but the term is positive (own or descendant evidence won). */
  overridden: boolean;
  /** Descendant terms with positive direct evidence: what made a parent positive. Source order. */
  supportedBy: string[];
  /** Every path [root, ..., term]; through every parent, so a multi-parent term shows them all. */
  paths: string[][];
}

/**
 * Returns the terms with evidence plus every ancestor of a positive one (roots included: the
 * "radiological finding" root positive means "abnormal study"), in taxonomy source order.
 * An unknown term throws UNKNOWN_TERM before anything is computed.
 */
export function rollUp<E extends Evidence>(taxonomy: Taxonomy, evidence: readonly E[]): RolledUpNode<E>[] {
  const byNode = new Map<TaxonomyNode, E[]>();
  for (const item of evidence) {
    const node = taxonomy.require(item.term, item.tree);
    byNode.set(node, [...(byNode.get(node) ?? []), item]);
  }

  const support = new Map<TaxonomyNode, Set<TaxonomyNode>>();
  for (const [node, items] of byNode) {
    if (!items.some((item) => item.positive)) continue;
    for (const term of taxonomy.ancestors(node.term, node.tree)) {
      const ancestor = taxonomy.get(term, node.tree)!;
      support.set(ancestor, (support.get(ancestor) ?? new Set()).add(node));
    }
  }

  const order = new Map(taxonomy.nodes().map((node, index) => [node, index]));
  const bySourceOrder = (a: TaxonomyNode, b: TaxonomyNode): number => order.get(a)! - order.get(b)!;
  const touched = [...new Set([...byNode.keys(), ...support.keys()])].sort(bySourceOrder);

  return touched.map((node) => {
    const items = byNode.get(node) ?? [];
    const supportedBy = [...(support.get(node) ?? [])].sort(bySourceOrder).map((n) => n.term);
    const positive = items.some((item) => item.positive) || supportedBy.length > 0;
    return {
      term: node.term,
      tree: node.tree,
      cui: node.cui,
      positive,
      direct: items.length > 0,
      evidence: items,
      overridden: positive && items.some((item) => !item.positive),
      supportedBy,
      paths: taxonomy.pathsFromRoot(node.term, node.tree),
    };
  });
}
