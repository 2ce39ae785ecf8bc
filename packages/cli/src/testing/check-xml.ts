/**
 * A strict XML well-formedness check for test output (SVG): one root, balanced and properly nested tags,
 * quoted unique attributes, only the five predefined entities or character references, nothing after the root.
 * Returns the element names seen. DOCTYPE, comments, processing instructions and CDATA are accepted.
 */
export function checkWellFormedXml(text: string): string[] {
  const stack: string[] = []
  const names: string[] = []
  let rootClosed = false
  let i = 0
  const textOk = (t: string): void => {
    if (/&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.test(t))
      throw new Error(`bad entity in ${JSON.stringify(t.slice(0, 40))}`)
    if (t.includes('<')) throw new Error('stray <')
  }
  while (i < text.length) {
    const lt = text.indexOf('<', i)
    const chunk = text.slice(i, lt < 0 ? text.length : lt)
    textOk(chunk)
    if (rootClosed && chunk.trim() !== '') throw new Error('text after the root element')
    if (lt < 0) break
    if (
      text.startsWith('<?', lt) ||
      text.startsWith('<!--', lt) ||
      text.startsWith('<![CDATA[', lt) ||
      text.startsWith('<!DOCTYPE', lt)
    ) {
      const end = text.startsWith('<!--', lt)
        ? '-->'
        : text.startsWith('<![CDATA[', lt)
          ? ']]>'
          : text.startsWith('<?', lt)
            ? '?>'
            : '>'
      const e = text.indexOf(end, lt)
      if (e < 0) throw new Error('unterminated markup declaration')
      i = e + end.length
      continue
    }
    const gt = text.indexOf('>', lt)
    if (gt < 0) throw new Error('unterminated tag')
    const tag = text.slice(lt + 1, gt)
    i = gt + 1
    if (tag.startsWith('/')) {
      const name = tag.slice(1).trim()
      if (stack.pop() !== name) throw new Error(`mismatched </${name}>`)
      if (stack.length === 0) rootClosed = true
      continue
    }
    const m = /^([A-Za-z_][\w.:-]*)((?:\s+[A-Za-z_][\w.:-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)$/.exec(tag)
    if (!m) throw new Error(`malformed tag <${tag.slice(0, 60)}>`)
    if (rootClosed) throw new Error('second root element')
    const attrs = [...m[2]!.matchAll(/([A-Za-z_][\w.:-]*)\s*=\s*("[^"]*"|'[^']*')/g)]
    const attrNames = attrs.map((a) => a[1]!)
    if (new Set(attrNames).size !== attrNames.length) throw new Error(`duplicate attribute in <${m[1]}>`)
    for (const a of attrs) textOk(a[2]!.slice(1, -1))
    names.push(m[1]!)
    if (m[3] === '/') {
      if (stack.length === 0) rootClosed = true
    } else stack.push(m[1]!)
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.at(-1)}>`)
  if (!rootClosed) throw new Error('no root element')
  return names
}
