// The official Yjs client (y-websocket's WebsocketProvider) on a Journeyboard board, used by
// tests/tests/js_interop.rs. It reads the board as docs/SCHEMA.md describes it, waits for a
// note written by the Rust test client, writes one of its own per the schema, waits for the
// Rust side's acknowledgement, and prints what it saw as one JSON line. On the way it tries a
// facilitator-only change as a participant and waits until the server has reverted it.
//
// usage: node interop.mjs ws://HOST/ws BOARD_ID TOKEN
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'

const [, , serverUrl, boardId, token] = process.argv
const doc = new Y.Doc()
const provider = new WebsocketProvider(serverUrl, boardId, doc, {
  params: { t: token },
  WebSocketPolyfill: WebSocket,
  disableBc: true
})
provider.awareness.setLocalStateField('user', { name: 'JS client', color: '#3355ff' })

const timeout = setTimeout(() => {
  console.error('interop: timed out')
  process.exit(2)
}, 15000)

const waitFor = (check) =>
  new Promise((resolve) => {
    const poll = () => (check() ? resolve() : setTimeout(poll, 20))
    poll()
  })

await new Promise((resolve) => provider.on('sync', (synced) => synced && resolve()))
const notes = doc.getMap('notes')
await waitFor(() => notes.has('from-rust'))

doc.transact(() => {
  const note = new Y.Map()
  note.set('id', 'from-js')
  note.set('text', new Y.Text('Written by y-websocket'))
  note.set('stage', 'purchase')
  note.set('lane', 'pain-points')
  note.set('color', 'green')
  note.set('author', 'JS client')
  note.set('created_at', Date.now())
  notes.set('from-js', note)
})

// A participant may not change the phase nor the stages: the server refuses the update and
// relays it with its revert, so this client converges back to the board as it was.
const board = doc.getMap('board')
const stages = doc.getArray('stages')
doc.transact(() => {
  board.set('phase', 'iteration')
  const stage = new Y.Map()
  stage.set('id', 'pre')
  stage.set('title', 'Pre-awareness')
  stages.insert(0, [stage])
})
await waitFor(() => board.get('phase') === 'icebreaker' && stages.length === 5)
await waitFor(() => notes.has('ack-from-rust'))

const rustNote = notes.get('from-rust')
console.log(JSON.stringify({
  title: doc.getMap('board').get('title'),
  phase: doc.getMap('board').get('phase'),
  stages: doc.getArray('stages').toArray().map((s) => s.get('title')),
  lanes: doc.getArray('lanes').toArray().map((l) => l.get('kind')),
  rustNoteText: rustNote.get('text').toString(),
  rustNoteTextIsYText: rustNote.get('text') instanceof Y.Text,
  bulkTextLength: [...notes.keys()].filter((id) => id.startsWith('bulk-'))
    .reduce((sum, id) => sum + notes.get(id).get('text').toString().length, 0),
  peers: [...provider.awareness.getStates().values()].map((s) => s.user && s.user.name).filter(Boolean)
}))
clearTimeout(timeout)
provider.destroy()
process.exit(0)
