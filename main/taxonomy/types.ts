/**
 * The PadChest label taxonomy as the engine sees it: four trees of terms, each term a node of a
 * DAG (the source lists some terms under several parents), with its UMLS CUI where it has one.
 */

/**
 * `status` groups the three one-node roots normal / exclude / suboptimal study (a name made up
 * here, as in the shared derived CSVs); the other trees are named after what their root holds.
 */
export type TaxonomyTree = 'finding' | 'diagnosis' | 'localization' | 'status';

export const TAXONOMY_TREES: readonly TaxonomyTree[] = ['finding', 'diagnosis', 'localization', 'status'];

/**
 * Each YAML document's root label decides its tree. The semantic roots are kept as real nodes
 * (not dropped) because they carry meaning and a CUI: "radiological finding" is
 * "Radiology result abnormal", so rolling a finding up to it says "abnormal study".
 */
export const ROOT_TREES: Readonly<Record<string, TaxonomyTree>> = {
  normal: 'status',
  exclude: 'status',
  'suboptimal study': 'status',
  'radiological finding': 'finding',
  'differential diagnosis': 'diagnosis',
  localization: 'localization',
};

export interface TaxonomyNode {
  /** The label as written in the source, surrounding whitespace removed ("Chilaiditi sign"). */
  readonly term: string;
  readonly tree: TaxonomyTree;
  /** The first CUI given for the term, e.g. "C0018800"; null when the source gives none. */
  readonly cui: string | null;
  /** Further CUIs given at other places of the same term (only adenopathy has one). */
  readonly altCuis: readonly string[];
  /** The name written after `cui` in the source, trimmed. */
  readonly cuiName: string | null;
  /** Union over every place the term appears, in order of first appearance. */
  readonly parents: readonly string[];
  readonly children: readonly string[];
  readonly isRoot: boolean;
  /** `single_label: Y`: the label is used alone on a study (normal, exclude). */
  readonly singleLabel: boolean;
}

export interface Taxonomy {
  /** Where it was read from (a path, or a name given to parseTaxonomy). */
  readonly source: string;
  /** The six roots, in source order. */
  readonly roots: readonly TaxonomyNode[];
  /** Every node (of one tree), in order of first appearance in the source. */
  nodes(tree?: TaxonomyTree): readonly TaxonomyNode[];
  /**
   * Case-insensitive, whitespace-trimmed lookup. Without a tree, the term must be in exactly one
   * tree (AMBIGUOUS_TERM otherwise); undefined when it is in none.
   */
  get(term: string, tree?: TaxonomyTree): TaxonomyNode | undefined;
  /** Never throws; has the shape of the packs stage's TermCheck. */
  has(term: string, tree?: TaxonomyTree): boolean;
  /** Like get, but an unknown term throws UNKNOWN_TERM naming the nearest known term and tree. */
  require(term: string, tree?: TaxonomyTree): TaxonomyNode;
  /** Every path [root, ..., term], sorted by source order of their nodes, first node first. */
  pathsFromRoot(term: string, tree?: TaxonomyTree): string[][];
  /** Every node above the term through any parent, in source order (the term excluded). */
  ancestors(term: string, tree?: TaxonomyTree): string[];
  /** Every node below the term through any child, in source order (the term excluded). */
  descendants(term: string, tree?: TaxonomyTree): string[];
}
