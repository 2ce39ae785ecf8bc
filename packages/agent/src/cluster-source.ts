import type { ClusterView, ViewStatus } from '@podlink/core'

/** What the agent needs from the Kubernetes side: the view, its freshness, and a change signal. */
export interface ClusterSource {
  /** Resolves once the view is usable: synced from the API, or loaded from the on-disk cache (stale). */
  start(signal?: AbortSignal): Promise<void>
  stop(): Promise<void>
  view(): ClusterView
  status(): ViewStatus
  onChange(listener: () => void): void
  /** Merge-patches `podlink.io/*` annotations on our own Node and keeps them right. */
  publishAnnotations(annotations: Readonly<Record<string, string | null>>): void
  /** Records a Kubernetes Event on a Node (deduplicated by the implementation). */
  recordEvent(event: { node: string; type: 'Normal' | 'Warning'; reason: string; message: string }): void
}
