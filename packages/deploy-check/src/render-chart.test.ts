import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { mergeValues, renderTemplate } from './render-chart.ts'
import { toPlain, toTemplate } from './template-holes.ts'

const ctx = { values: { a: { s: 'x', n: 9464, b: false, list: [{ k: 1 }], empty: [] } }, releaseNamespace: 'ns' }

describe('renderTemplate (the Helm subset)', () => {
  it('prints values, quotes, toYaml with nindent, trims around {{- and -}}', () => {
    expect(renderTemplate('p: {{ .Values.a.n }}\nq: {{ .Values.a.s | quote }}\n', ctx)).toBe('p: 9464\nq: "x"\n')
    expect(renderTemplate('l:\n{{- toYaml .Values.a.list | nindent 2 }}\n', ctx)).toBe('l:\n  - k: 1\n')
    expect(renderTemplate('a  {{- .Release.Namespace -}}  b', ctx)).toBe('ansb')
  })

  it('applies if/end with Go truthiness, nested', () => {
    const t =
      'x\n{{- if .Values.a.b }}\nno\n{{- end }}\n{{- if .Values.a.list }}\nyes\n{{- if .Values.a.empty }}\nno\n{{- end }}\n{{- end }}\n'
    expect(renderTemplate(t, ctx)).toBe('x\nyes\n')
  })

  it('refuses anything outside the subset and values that do not exist', () => {
    for (const t of [
      '{{ include "x" . }}',
      '{{ .Values.a.s | default "y" }}',
      '{{ range .Values.a.list }}{{ end }}',
      '{{ .Values.a.missing }}',
      '{{ if .Values.a.b }}',
      '{{ .Values.a.list }}',
    ])
      expect(() => renderTemplate(t, ctx), t).toThrow()
  })

  it('merges maps of user values into the defaults and replaces lists, as helm -f does', () => {
    expect(mergeValues({ m: { a: 1, b: 2 }, l: [1, 2] }, { m: { b: 3 }, l: [9] })).toEqual({
      m: { a: 1, b: 3 },
      l: [9],
    })
  })
})

describe('toTemplate / toPlain', () => {
  const ref = (expr: string, value: string | number | boolean) => ({ hole: 'ref' as const, expr, value })
  it('make a template that renders back to the plain object', () => {
    const values = { on: true, off: false, port: 1, tag: 'v1', sel: { a: 'b' } }
    const tree = {
      a: ref('.Values.port', 1),
      img: { hole: 'concat', quoted: true, parts: ['r:', { ref: ref('.Values.tag', 'v1'), quote: false }] },
      sel: { hole: 'block', expr: '.Values.sel', value: { a: 'b' } },
      gone: { hole: 'when', expr: '.Values.off', on: false, body: { deep: [1] } },
      kept: { hole: 'when', expr: '.Values.on', on: true, body: [ref('.Values.tag', 'v1')] },
      z: 'last',
    }
    const text = toTemplate(tree)
    expect(text).toContain('{{- if .Values.off }}')
    const rendered = renderTemplate(text, { values, releaseNamespace: 'ns' })
    expect(rendered).not.toContain('deep')
    expect(parse(rendered)).toEqual(toPlain(tree))
    expect(toPlain(tree)).toEqual({ a: 1, img: 'r:v1', sel: { a: 'b' }, kept: ['v1'], z: 'last' })
  })
  it('refuses holes it cannot place', () => {
    expect(() => toTemplate({ l: [{ hole: 'when', expr: '.Values.x', on: true, body: 1 }] })).toThrow()
    expect(() => toTemplate({ l: [{ hole: 'block', expr: '.Values.x', value: [] }] })).toThrow()
  })
})
