// s3srv.js DIR BUCKET [PORT]: runs @20minutes/s3rver (pinned in package.json), an
// S3-compatible server that verifies SigV4 signatures (account S3RVER /
// S3RVER), on 127.0.0.1:PORT (0 or none: a free port), storing into DIR, with BUCKET
// created. Prints "listening PORT" once it accepts requests; stops on SIGTERM.
// Started and stopped by tests/lib/s3srv.c.
'use strict'
const fs = require('node:fs')
const S3rver = require('@20minutes/s3rver')

const [dir, bucket, port] = process.argv.slice(2)
if (!dir || !bucket) {
  console.error('usage: node s3srv.js DIR BUCKET [PORT]')
  process.exit(2)
}
fs.mkdirSync(dir, { recursive: true })
const server = new S3rver({
  address: '127.0.0.1',
  port: port ? Number(port) : 0,
  directory: dir,
  silent: true,
  configureBuckets: [{ name: bucket, configs: [] }],
})
server.run().then(
  (addr) => {
    process.stdout.write(`listening ${addr.port}\n`)
  },
  (err) => {
    console.error(`s3srv: ${err.message}`)
    process.exit(1)
  },
)
process.on('SIGTERM', () => {
  server.close(() => process.exit(0))
})
