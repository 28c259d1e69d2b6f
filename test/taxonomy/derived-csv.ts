/**
 * The shared derived CSVs (generated with Python's yaml.safe_load_all, an independent parser),
 * read as the reference for the taxonomy parser. The copies under fixtures/ are byte-identical
 * to /work/shared/data/padchest/derived/ so the cross-check runs where shared data is absent.
 */
import { readFileSync } from 'node:fs';

export const FIXTURES = new URL('./fixtures/', import.meta.url);

/** RFC 4180: quoted fields may hold commas ("x-ray of chest, pleural effusion") and "" quotes. */
export function parseCsv(text: string): Record<string, string>[] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  const [header, ...body] = rows;
  return body.map((cells) => {
    if (cells.length !== header.length)
      throw new Error(`CSV row has ${cells.length} cells, header ${header.length}: ${cells.join(',')}`);
    return Object.fromEntries(header.map((name, i) => [name, cells[i]]));
  });
}

export const list = (cell: string): string[] => (cell === '' ? [] : cell.split(';'));

export function derivedNodes(): Record<string, string>[] {
  return parseCsv(readFileSync(new URL('padchest_taxonomy_nodes.csv', FIXTURES), 'utf8'));
}

export function derivedEdges(): Record<string, string>[] {
  return parseCsv(readFileSync(new URL('padchest_taxonomy_edges.csv', FIXTURES), 'utf8'));
}
