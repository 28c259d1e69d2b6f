/** The file name of a path, on either platform's separators (the window shows names, not paths). */
export function fileName(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] || path;
}
