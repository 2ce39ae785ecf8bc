import { hasCode } from '@podlink/core'
import { describe, expect, it } from 'vitest'
import { annotationPatch, assertOwnedKey } from './annotation-patch.ts'

describe('annotationPatch', () => {
  it.each([
    ['in sync', { 'podlink.io/a': '1' }, { 'podlink.io/a': '1', other: 'x' }, undefined],
    ['missing', { 'podlink.io/a': '1' }, { other: 'x' }, { 'podlink.io/a': '1' }],
    ['changed', { 'podlink.io/a': '1' }, { 'podlink.io/a': '2' }, { 'podlink.io/a': '1' }],
    ['no node yet', { 'podlink.io/a': '1' }, undefined, { 'podlink.io/a': '1' }],
    ['to delete', { 'podlink.io/a': null }, { 'podlink.io/a': '2', other: 'x' }, { 'podlink.io/a': null }],
    ['already gone', { 'podlink.io/a': null }, { other: 'x' }, undefined],
  ])('%s', (_, desired, current, patch) => {
    expect(annotationPatch(desired, current)).toEqual(patch)
  })

  it('refuses keys outside podlink.io/', () => {
    for (const key of ['flannel.alpha.coreos.com/public-ip', 'podlink.io/', 'x/podlink.io/a']) {
      let caught: unknown
      try {
        assertOwnedKey(key)
      } catch (err) {
        caught = err
      }
      expect(hasCode(caught, 'kube-annotation')).toBe(true)
    }
    expect(() => assertOwnedKey('podlink.io/peer-id')).not.toThrow()
  })
})
