export * from './cidr.ts'
export * from './cidr-table.ts'
export * from './ip-address.ts'
export * from './keepalive.ts'
