import { readFile } from 'node:fs/promises'
import { PodlinkError } from '@podlink/core'
import type { ApiServerOptions } from './api-server.ts'

/** The JSON file `main.ts --config` reads; the lab writes it. */
export interface ApiServerConfig {
  listen: { host: string; port: number }
  certFile: string
  keyFile: string
  /** Bearer token -> user name. */
  tokens: Record<string, string>
  stateFile: string
  seedFile?: string
  serviceCIDR?: string
  watchWindow?: number
}

/** Reads and checks a config file, naming the field at fault. */
export async function parseApiServerConfig(path: string): Promise<ApiServerConfig> {
  let raw: unknown
  try {
    raw = JSON.parse(await readFile(path, 'utf8'))
  } catch (err) {
    throw new PodlinkError('apiserver-config', `Cannot read config ${path} as JSON`, { cause: err })
  }
  const fail = (field: string, what: string) => new PodlinkError('apiserver-config', `${path}: ${field}: ${what}`)
  const c = raw as Partial<ApiServerConfig>
  if (typeof c !== 'object' || c === null) throw fail('(root)', 'must be an object')
  if (typeof c.listen?.host !== 'string') throw fail('listen.host', 'must be a string')
  if (!Number.isInteger(c.listen.port) || c.listen.port < 0 || c.listen.port > 65535)
    throw fail('listen.port', 'must be a port number')
  for (const field of ['certFile', 'keyFile', 'stateFile'] as const) {
    if (typeof c[field] !== 'string' || c[field] === '') throw fail(field, 'must be a path')
  }
  if (typeof c.tokens !== 'object' || c.tokens === null || Object.values(c.tokens).some((u) => typeof u !== 'string')) {
    throw fail('tokens', 'must map each token to a user name')
  }
  if (c.seedFile !== undefined && typeof c.seedFile !== 'string') throw fail('seedFile', 'must be a path')
  if (c.serviceCIDR !== undefined && !/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(c.serviceCIDR))
    throw fail('serviceCIDR', 'must be an IPv4 CIDR')
  if (c.watchWindow !== undefined && (!Number.isInteger(c.watchWindow) || c.watchWindow < 1)) {
    throw fail('watchWindow', 'must be a positive integer')
  }
  return c as ApiServerConfig
}

export function optionsFromConfig(config: ApiServerConfig, log?: (line: string) => void): ApiServerOptions {
  const options: ApiServerOptions = {
    host: config.listen.host,
    port: config.listen.port,
    certFile: config.certFile,
    keyFile: config.keyFile,
    tokens: config.tokens,
    stateFile: config.stateFile,
  }
  if (config.seedFile !== undefined) options.seedFile = config.seedFile
  if (config.serviceCIDR !== undefined) options.serviceCIDR = config.serviceCIDR
  if (config.watchWindow !== undefined) options.watchWindow = config.watchWindow
  if (log !== undefined) options.log = log
  return options
}
