/**
 * The findings of one image as the PadChest hierarchy: a forest built from each finding's paths
 * from its taxonomy root. A node the engine reported carries its finding; a node only on the way
 * to one (an ancestor of a negative finding, which the engine does not roll up) is a plain group.
 * A term under two parents (the taxonomy is a DAG) appears under both.
 * Order: positive first, then by the ensemble's calibrated probability (terms not assessed
 * last), then alphabetically.
 */
import type { FindingData } from '../../main/app/api/contract.js';

export interface TreeNode {
  /** Unique within the forest: the path from the root. */
  id: string;
  term: string;
  tree: FindingData['tree'];
  finding: FindingData | null;
  children: TreeNode[];
  /** The node or something below it is positive. */
  positiveWithin: boolean;
}

export function findingKey(finding: { term: string; tree: string }): string {
  return `${finding.tree}:${finding.term}`;
}

function compare(a: TreeNode, b: TreeNode): number {
  return (
    Number(b.positiveWithin) - Number(a.positiveWithin) ||
    (b.finding?.probability?.ensemble ?? -1) - (a.finding?.probability?.ensemble ?? -1) ||
    a.term.localeCompare(b.term)
  );
}

export function buildTree(findings: FindingData[]): TreeNode[] {
  const byKey = new Map(findings.map((f) => [findingKey(f), f]));
  const roots: TreeNode[] = [];
  const nodes = new Map<string, TreeNode>();
  const nodeAt = (path: string[], tree: FindingData['tree'], siblings: TreeNode[]): TreeNode => {
    const id = `${tree}:${path.join('>')}`;
    let node = nodes.get(id);
    if (!node) {
      const term = path[path.length - 1];
      node = { id, term, tree, finding: byKey.get(`${tree}:${term}`) ?? null, children: [], positiveWithin: false };
      nodes.set(id, node);
      siblings.push(node);
    }
    return node;
  };
  for (const finding of findings) {
    const paths = finding.paths.length > 0 ? finding.paths : [[finding.term]];
    for (const path of paths) {
      let siblings = roots;
      for (let depth = 1; depth <= path.length; depth++) {
        const node = nodeAt(path.slice(0, depth), finding.tree, siblings);
        siblings = node.children;
      }
    }
  }
  const settle = (list: TreeNode[]): void => {
    for (const node of list) {
      settle(node.children);
      node.positiveWithin = (node.finding?.positive ?? false) || node.children.some((c) => c.positiveWithin);
    }
    list.sort(compare);
  };
  settle(roots);
  return roots;
}

/** Every node id in display order (depth first), for keyboard navigation and default expansion. */
export function flatten(roots: TreeNode[]): TreeNode[] {
  const out: TreeNode[] = [];
  const walk = (list: TreeNode[]) => {
    for (const node of list) {
      out.push(node);
      walk(node.children);
    }
  };
  walk(roots);
  return out;
}

/** A finding a reader can judge and whose heatmap exists: positive and called by the models. */
export function hasHeatmap(finding: FindingData | null): boolean {
  return finding !== null && finding.positive && finding.direct && finding.votes.positive > 0;
}
