/** Column layout for every list command: kubectl's look (upper-case headers, two spaces between columns). */
import { type Paint, type Style, visibleLength } from './colour.ts'

export interface Cell {
  readonly text: string
  readonly style?: Style | null
}

export interface TableColumn {
  readonly header: string
  /** Right-align (numbers, sizes). */
  readonly right?: boolean
}

/**
 * Renders rows under headers; the last column is not padded (it holds free text such as reasons).
 * Columns whose cells are all empty are kept: a stable shape is easier to scan and to grep.
 */
export function renderTable(
  columns: readonly TableColumn[],
  rows: readonly (readonly (Cell | string)[])[],
  paint: Paint,
): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'string' ? { text: c } : c)))
  const widths = columns.map((col, i) =>
    Math.max(col.header.length, ...cells.map((r) => visibleLength(r[i]?.text ?? ''))),
  )
  const line = (texts: readonly string[], painted: readonly string[]): string =>
    painted
      .map((p, i) => {
        if (i === columns.length - 1) return p
        const pad = ' '.repeat(widths[i]! - visibleLength(texts[i]!))
        return (columns[i]!.right ? pad + p : p + pad) + '  '
      })
      .join('')
      .trimEnd()
  const out = [
    line(
      columns.map((c) => c.header),
      columns.map((c) => paint(c.header, 'bold')),
    ),
  ]
  for (const r of cells) {
    const texts = columns.map((_, i) => r[i]?.text ?? '')
    out.push(
      line(
        texts,
        columns.map((_, i) => paint(texts[i]!, r[i]?.style ?? null)),
      ),
    )
  }
  return out.join('\n')
}
