// Split a CMA best-track file (CH<year>BST.txt) into chunks of whole storms, each under the hub's
// frame limit, each with the number of its first line so errors name lines of the whole file.
// Shared by the CLI and the renderer's file drop. A storm longer than `max` is split mid-storm (its
// tail then reports as lines before a header); a real storm has a few hundred lines at most.
export function chunkCma(text: string, max = 48_000): { text: string; firstLine: number }[] {
  const lines = text.split(/\r?\n/);
  const chunks: { text: string; firstLine: number }[] = [];
  let buf: string[] = [];
  let size = 0;
  let start = 1;
  lines.forEach((l, i) => {
    const header = l.trimStart().startsWith('66666');
    if (buf.length && ((header && size + l.length > max * 0.5) || size + l.length + 1 > max)) {
      chunks.push({ text: buf.join('\n'), firstLine: start });
      buf = [];
      size = 0;
      start = i + 1;
    }
    buf.push(l.slice(0, max - 1));
    size += l.length + 1;
  });
  if (buf.length) chunks.push({ text: buf.join('\n'), firstLine: start });
  return chunks;
}
