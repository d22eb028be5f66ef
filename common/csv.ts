// CSV as RFC 4180 has it (quotes, doubled quotes, CRLF or LF), the way Excel and WPS save the
// directories bureaus keep. Pure; never throws: a row it cannot read comes back as an error.

export interface CsvRow {
  /** 1-based line number where the row starts (for "line 12: …" messages). */
  line: number;
  fields: string[];
}

export function parseCsv(text: string, firstLine = 1): { rows: CsvRow[]; errors: { line: number; message: string }[] } {
  const rows: CsvRow[] = [];
  const errors: { line: number; message: string }[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // a BOM from Excel
  let line = firstLine;
  while (i < text.length) {
    const start = line;
    const fields: string[] = [];
    let field = '';
    let quoted = false;
    let bad: string | null = null;
    for (;;) {
      if (i >= text.length) {
        if (quoted) bad = 'a quoted field is not closed';
        fields.push(field);
        break;
      }
      const c = text[i]!;
      if (quoted) {
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          quoted = false;
          i++;
          // RFC 4180: a closing quote ends the field; only a comma or a line end may follow it.
          const next = text[i];
          if (next !== undefined && next !== ',' && next !== '\r' && next !== '\n' && !bad) bad = 'a closing quote followed by more than a comma or a line end';
          continue;
        }
        if (c === '\n') line++;
        field += c;
        i++;
        continue;
      }
      if (c === '"' && field === '') {
        quoted = true;
        i++;
        continue;
      }
      if (c === ',') {
        fields.push(field);
        field = '';
        i++;
        continue;
      }
      if (c === '\r' || c === '\n') {
        fields.push(field);
        i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
        line++;
        break;
      }
      if (c === '"') bad = 'a quote inside an unquoted field';
      field += c;
      i++;
    }
    if (bad) errors.push({ line: start, message: bad });
    else if (!(fields.length === 1 && fields[0] === '')) rows.push({ line: start, fields });
  }
  return { rows, errors };
}

/** One CSV line. Cells that a spreadsheet would run as a formula are prefixed with ' (CSV injection). */
export function csvLine(cells: (string | number | null | undefined)[]): string {
  return cells
    .map((v) => {
      let s = v === null || v === undefined ? '' : String(v);
      if (/^[=@\t\r]/.test(s) || /^[+-][^\d]/.test(s)) s = `'${s}`;
      return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
    })
    .join(',');
}
