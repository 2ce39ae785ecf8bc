/** The agent's validated configuration; every field and its meaning is in config-schema.ts. */
export interface AgentConfig {
  readonly nodeName: string
  readonly stateDir: string
  readonly statusSocket: string
  readonly kube: {
    readonly mode: 'in-cluster' | 'kubeconfig' | 'metaserver'
    readonly kubeconfig: string | null
    readonly metaServerUrl: string
    readonly kubeProxy: boolean
  }
  readonly mesh: {
    readonly listenPort: number
    readonly fastPath: boolean
    readonly fastPort: number
    readonly fastRelayPort: number
    /** FIRST-LAST, or off. */
    readonly fastPunchPorts: string
    readonly pskFile: string
    readonly pskMode: 'proof' | 'pnet'
    readonly encrypter: 'tls' | 'noise'
    readonly publicRanges: readonly string[]
    readonly relay: 'auto' | 'always' | 'never'
  }
  readonly dataplane: {
    readonly enabled: boolean
    readonly tcpPort: number
    readonly udpPort: number
    readonly bypassMark: number
    readonly tproxyMark: number
  }
  readonly metrics: { readonly address: string; readonly port: number }
  readonly log: { readonly level: 'debug' | 'info' | 'warn' | 'error' }
}
