/**
 * ANSI colour, only when the caller decided it is wanted (`wantColour`): a TTY, and NO_COLOR unset
 * (https://no-color.org: any non-empty value disables colour).
 */
import type { PathKind } from '@podlink/core'

export type Style = 'bold' | 'dim' | 'red' | 'green' | 'yellow' | 'blue' | 'magenta' | 'cyan'

const CODES: Readonly<Record<Style, string>> = {
  bold: '1',
  dim: '2',
  red: '31',
  green: '32',
  yellow: '33',
  blue: '34',
  magenta: '35',
  cyan: '36',
}

export type Paint = (text: string, style: Style | null) => string

export const noColour: Paint = (text) => text

export const ansiColour: Paint = (text, style) =>
  style === null || text === '' ? text : `\x1b[${CODES[style]}m${text}\x1b[0m`

export function wantColour(isTTY: boolean, env: Readonly<Record<string, string | undefined>>): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false
  return isTTY && env.TERM !== 'dumb'
}

/** How each path reads at a glance: green is as good as it gets, yellow works but costs, red does not work. */
export function pathStyle(path: PathKind): Style {
  switch (path) {
    case 'lan':
    case 'direct':
      return 'green'
    case 'punched':
      return 'cyan'
    case 'relay':
      return 'yellow'
    case 'none':
      return 'red'
  }
}

/** The visible width of a cell: ANSI escapes take no columns. */
export function visibleLength(text: string): number {
  return text.replace(/\x1b\[[0-9;]*m/g, '').length
}
