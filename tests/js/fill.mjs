// Temporary experiment: fill the disk with notes until the server refuses.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'
const [url, id, token, count] = process.argv.slice(2)
const doc = new Y.Doc()
const p = new WebsocketProvider(url, id, doc, { params: { t: token }, WebSocketPolyfill: WebSocket })
let closes = []
p.on('connection-close', (e) => { if (e) closes.push(e.code) })
await new Promise(r => p.on('sync', s => s && r()))
const notes = doc.getMap('notes')
for (let i = 0; i < Number(count); i++) {
  const m = new Y.Map()
  const t = new Y.Text()
  t.insert(0, 'x'.repeat(9000) + Math.random())
  m.set('id', 'n' + i + Math.random()); m.set('text', t); m.set('lane', 'actions'); m.set('stage', 'purchase'); m.set('author_id', '')
  notes.set('n' + i + '-' + Math.random(), m)
  await new Promise(r => setTimeout(r, 20))
}
await new Promise(r => setTimeout(r, 1500))
console.log(JSON.stringify({ closes, notes: notes.size }))
process.exit(0)
