/**
 * Parsing PadChest's trees_code.txt: one YAML document per root, nodes `{label, concept?,
 * children?, single_label?}`. The source repeats a term wherever it belongs (calcified granuloma
 * under calcified densities and under granuloma), and a repeated copy often lists only some of
 * the term's children, so copies are merged by (tree, term): parents and children are the union
 * over every copy. Merging can create cycles the source never shows directly (A under B here,
 * B under A there), so the merged graph is checked for them.
 */
import { parseAllDocuments } from 'yaml';
import { TaxonomyError } from './errors.js';
import { buildTaxonomy, normalizeTerm } from './taxonomy.js';
import type { NodeSpec } from './taxonomy.js';
import { ROOT_TREES } from './types.js';
import type { Taxonomy, TaxonomyTree } from './types.js';

/** `(C0018800)  Cardiomegaly`: a UMLS CUI is "C" and seven digits. */
const CONCEPT = /^\((C\d{7})\)\s*(.*)$/s;
const NODE_KEYS = new Set(['label', 'concept', 'children', 'single_label']);

interface Draft {
  term: string;
  tree: TaxonomyTree;
  cuis: string[];
  cuiName: string | null;
  /** Normalised keys, in order of first appearance. */
  parents: string[];
  children: string[];
  isRoot: boolean;
  singleLabel: boolean;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseTaxonomy(text: string, source = '<string>'): Taxonomy {
  const fail = (message: string): never => {
    throw new TaxonomyError('INVALID_TAXONOMY', `${source}: ${message}`);
  };
  // One map per tree: the same label in two trees would be two different terms.
  const drafts = new Map<TaxonomyTree, Map<string, Draft>>();
  const ordered: Draft[] = [];

  /** `at` is the chain of labels from the root, for error messages. */
  function visit(raw: unknown, tree: TaxonomyTree, parent: Draft | null, at: string[], onStack: Set<object>): Draft {
    const where = at.length === 0 ? 'a root node' : `a node under "${at.join('" > "')}"`;
    if (!isRecord(raw)) return fail(`${where} is not a mapping.`);
    // A YAML alias can make a node contain itself; it would otherwise recurse forever.
    if (onStack.has(raw)) {
      throw new TaxonomyError('TAXONOMY_CYCLE', `${source}: a YAML alias makes ${where} contain itself.`);
    }
    for (const key of Object.keys(raw)) if (!NODE_KEYS.has(key)) fail(`${where} has an unknown key "${key}".`);
    if (typeof raw.label !== 'string' || raw.label.trim() === '') return fail(`${where} has no text label.`);
    // Labels are trimmed: the source has "lower lobe " with a trailing space in one place.
    const term = raw.label.trim().replace(/\s+/g, ' ');
    const label = `"${[...at, term].join('" > "')}"`;

    let cui: string | null = null;
    let cuiName: string | null = null;
    if (raw.concept !== undefined && raw.concept !== null) {
      const match = typeof raw.concept === 'string' ? CONCEPT.exec(raw.concept.trim()) : null;
      if (!match) return fail(`${label} has concept ${JSON.stringify(raw.concept)}, not "(C0000000) name".`);
      cui = match[1];
      cuiName = match[2].trim() || null;
    }
    const single = raw.single_label;
    if (single !== undefined && single !== null && single !== 'Y' && single !== 'N') {
      fail(`${label} has single_label ${JSON.stringify(single)}, not Y or N.`);
    }
    const children = raw.children ?? [];
    if (!Array.isArray(children)) return fail(`${label} has children that are not a list.`);

    const inTree = drafts.get(tree) ?? new Map<string, Draft>();
    drafts.set(tree, inTree);
    const key = normalizeTerm(term);
    let draft = inTree.get(key);
    if (!draft) {
      draft = { term, tree, cuis: [], cuiName, parents: [], children: [], isRoot: parent === null, singleLabel: false };
      inTree.set(key, draft);
      ordered.push(draft);
    } else if (parent === null) {
      fail(`the root "${term}" appears twice (again as a root, or earlier as a child in its tree).`);
    }
    if (cui !== null && !draft.cuis.includes(cui)) {
      draft.cuis.push(cui);
      // The name goes with the first CUI; an alternative CUI's name is context (e.g. "hilar adenopathy").
      if (draft.cuis.length === 1) draft.cuiName = cuiName;
    }
    draft.singleLabel ||= single === 'Y';
    if (parent) {
      const parentKey = normalizeTerm(parent.term);
      if (!draft.parents.includes(parentKey)) draft.parents.push(parentKey);
    }

    onStack.add(raw);
    for (const child of children) {
      const childDraft = visit(child, tree, draft, [...at, term], onStack);
      const childKey = normalizeTerm(childDraft.term);
      // A term listed twice under one parent (pericardial effusion under the root) is one edge.
      if (!draft.children.includes(childKey)) draft.children.push(childKey);
    }
    onStack.delete(raw);
    return draft;
  }

  const documents = parseAllDocuments(text);
  if (!Array.isArray(documents)) return fail('holds no YAML documents.');
  for (const document of documents) {
    if (document.errors.length > 0) fail(`is not valid YAML: ${document.errors[0].message.split('\n')[0]}`);
    const root: unknown = document.toJS({ maxAliasCount: 1000 });
    if (root === null || root === undefined) continue; // an empty document, e.g. after a final ---
    const label = isRecord(root) && typeof root.label === 'string' ? root.label.trim() : undefined;
    const tree = label === undefined ? undefined : ROOT_TREES[label];
    if (tree === undefined) {
      fail(`document root ${JSON.stringify(label ?? root)} is not one of ${Object.keys(ROOT_TREES).join(', ')}.`);
    }
    visit(root, tree!, null, [], new Set());
  }

  const missing = Object.entries(ROOT_TREES).filter(([label, tree]) => !drafts.get(tree)?.get(label));
  if (missing.length > 0) fail(`has no root ${missing.map(([label]) => `"${label}"`).join(', ')}.`);

  checkAcyclic(source, drafts);
  for (const draft of ordered) {
    if (draft.isRoot && draft.parents.length > 0) {
      fail(
        `the root "${draft.term}" also appears as a child of "${drafts.get(draft.tree)!.get(draft.parents[0])!.term}".`,
      );
    }
  }

  const termOf = (tree: TaxonomyTree, key: string): string => drafts.get(tree)!.get(key)!.term;
  const specs: NodeSpec[] = ordered.map((draft) => ({
    term: draft.term,
    tree: draft.tree,
    cui: draft.cuis[0] ?? null,
    altCuis: draft.cuis.slice(1),
    cuiName: draft.cuiName,
    parents: draft.parents.map((key) => termOf(draft.tree, key)),
    children: draft.children.map((key) => termOf(draft.tree, key)),
    isRoot: draft.isRoot,
    singleLabel: draft.singleLabel,
  }));
  return buildTaxonomy(source, specs);
}

/** Depth-first search over the merged children; a grey node met again closes a cycle. */
function checkAcyclic(source: string, drafts: Map<TaxonomyTree, Map<string, Draft>>): void {
  for (const [tree, inTree] of drafts) {
    const state = new Map<string, 'grey' | 'black'>();
    const stack: string[] = [];
    const walk = (key: string): void => {
      state.set(key, 'grey');
      stack.push(key);
      for (const child of inTree.get(key)!.children) {
        if (state.get(child) === 'grey') {
          const cycle = [...stack.slice(stack.indexOf(child)), child].map((k) => `"${inTree.get(k)!.term}"`);
          throw new TaxonomyError('TAXONOMY_CYCLE', `${source}: the ${tree} tree has a cycle: ${cycle.join(' > ')}.`);
        }
        if (state.get(child) === undefined) walk(child);
      }
      stack.pop();
      state.set(key, 'black');
    };
    for (const key of inTree.keys()) if (state.get(key) === undefined) walk(key);
  }
}
