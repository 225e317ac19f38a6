// A scriptable SMPP 3.4 SMSC for the Tidings integration tests, built on the npm `smpp` package
// (farhadi/node-smpp), an implementation independent of the client under test.
//
// Listens on 127.0.0.1 port 0 and prints {"ev":"listening","port":N}. Every received PDU is
// logged as one JSON line on stdout ({"ev":"pdu", ...} with the raw short_message bytes in hex).
// Credentials: SMSC_SYSTEM_ID / SMSC_PASSWORD (default test / secret); wrong ones -> ESME_RBINDFAIL.
//
// Outcomes are chosen by the destination number (magic prefixes):
//   3725551...  ESME_RTHROTTLED (0x58) for the first 2 submits to that number, then accepted
//   3725552...  never answers the submit_sm
//   3725553...  accepted, receipt stat:UNDELIV err:001
//   3725554...  the receipt is sent BEFORE the submit_sm_resp
//   3725555...  message ids: submit_sm_resp in hex, receipt text in decimal (no TLVs)
//   3725556...  ESME_RINVDSTADR (0x0B)
//   3725557...  ESME_RMSGQFUL (0x14) once, then accepted
//   anything else: accepted, receipt stat:DELIVRD (text + receipted_message_id/message_state TLVs)
// A receipt is sent only when registered_delivery & 1.
// Commands, one JSON object per stdin line: {"cmd":"drop"} closes every session;
// {"cmd":"mo","source":..,"destination":..,"data_coding":8|0,"ref":N,"parts":["..",..]} sends a
// mobile-originated message on the newest session: one deliver_sm per part, encoded by
// node-smpp (UCS-2, or the GSM 03.38 default alphabet), with an 8-bit concatenation UDH when
// there is more than one part.
'use strict';

const smpp = require('smpp');
const PDU = require('smpp/lib/pdu').PDU;

const SYSTEM_ID = process.env.SMSC_SYSTEM_ID || 'test';
const PASSWORD = process.env.SMSC_PASSWORD || 'secret';
const DLR_DELAY_MS = Number(process.env.SMSC_DLR_DELAY_MS || 20);

// Keep the raw bytes of every PDU, so we can log short_message exactly as it was sent.
const origFromBuffer = PDU.prototype.fromBuffer;
PDU.prototype.fromBuffer = function (buffer) {
  Object.defineProperty(this, '_raw', { value: Buffer.from(buffer), enumerable: false });
  return origFromBuffer.call(this, buffer);
};

function log(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

// Walk the submit_sm body (SMPP 3.4 §4.4.1) to the raw short_message octets.
function rawShortMessage(buf) {
  let off = 16;
  const cstr = () => {
    const end = buf.indexOf(0, off);
    const s = buf.slice(off, end).toString('latin1');
    off = end + 1;
    return s;
  };
  cstr(); // service_type
  off += 2; cstr(); // source ton, npi, addr
  off += 2; cstr(); // dest ton, npi, addr
  off += 3; // esm_class, protocol_id, priority_flag
  cstr(); cstr(); // schedule_delivery_time, validity_period
  off += 4; // registered_delivery, replace_if_present, data_coding, sm_default_msg_id
  const len = buf[off];
  return buf.slice(off + 1, off + 1 + len);
}

let nextId = 1000;
const throttled = {};
const queueFull = {};
const sessions = new Set();

function pad(n) { return String(n).padStart(2, '0'); }
function smppDate(d) {
  return pad(d.getUTCFullYear() % 100) + pad(d.getUTCMonth() + 1) + pad(d.getUTCDate()) +
    pad(d.getUTCHours()) + pad(d.getUTCMinutes());
}

function sendReceipt(session, pdu, id, stat, err, withTlvs) {
  const now = smppDate(new Date());
  const text = `id:${id} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'} submit date:${now} ` +
    `done date:${now} stat:${stat} err:${err} text:`;
  const states = { DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8 };
  const fields = {
    source_addr: pdu.destination_addr,
    destination_addr: pdu.source_addr,
    esm_class: smpp.ESM_CLASS.MC_DELIVERY_RECEIPT,
    short_message: text,
  };
  if (withTlvs) {
    fields.receipted_message_id = String(id);
    fields.message_state = states[stat];
  }
  session.deliver_sm(fields, (resp) => log({ ev: 'deliver_sm_resp', id: String(id), status: resp.command_status }));
  log({ ev: 'receipt', id: String(id), stat });
}

function onSubmit(session, pdu) {
  const raw = rawShortMessage(pdu._raw);
  const udhi = (pdu.esm_class & 0x40) !== 0;
  const udhLen = udhi && raw.length ? raw[0] + 1 : 0;
  const sm = pdu.short_message || {};
  log({
    ev: 'pdu', command: 'submit_sm', sequence_number: pdu.sequence_number,
    source_addr: pdu.source_addr, source_addr_ton: pdu.source_addr_ton, source_addr_npi: pdu.source_addr_npi,
    destination_addr: pdu.destination_addr, dest_addr_ton: pdu.dest_addr_ton, dest_addr_npi: pdu.dest_addr_npi,
    esm_class: pdu.esm_class, data_coding: pdu.data_coding, registered_delivery: pdu.registered_delivery,
    short_message_hex: raw.toString('hex'), udh_hex: raw.slice(0, udhLen).toString('hex'),
    text: typeof sm.message === 'string' ? sm.message : null,
  });
  const dst = pdu.destination_addr;
  const respond = (fields) => session.send(pdu.response(fields));
  if (dst.startsWith('3725551') && (throttled[dst] || 0) < 2) {
    throttled[dst] = (throttled[dst] || 0) + 1;
    return respond({ command_status: smpp.ESME_RTHROTTLED });
  }
  if (dst.startsWith('3725557') && !queueFull[dst]) {
    queueFull[dst] = true;
    return respond({ command_status: smpp.ESME_RMSGQFUL });
  }
  if (dst.startsWith('3725552')) return; // never answer
  if (dst.startsWith('3725556')) return respond({ command_status: smpp.ESME_RINVDSTADR });
  const id = nextId++;
  const wantDlr = (pdu.registered_delivery & 1) === 1;
  if (dst.startsWith('3725554')) {
    if (wantDlr) sendReceipt(session, pdu, id, 'DELIVRD', '000', true);
    setTimeout(() => respond({ message_id: String(id) }), 100);
    return;
  }
  const hex = dst.startsWith('3725555');
  respond({ message_id: hex ? id.toString(16) : String(id) });
  if (!wantDlr) return;
  const stat = dst.startsWith('3725553') ? 'UNDELIV' : 'DELIVRD';
  const err = stat === 'UNDELIV' ? '001' : '000';
  setTimeout(() => sendReceipt(session, pdu, id, stat, err, !hex), DLR_DELAY_MS);
}

const server = smpp.createServer({}, (session) => {
  sessions.add(session);
  session.on('error', (e) => log({ ev: 'error', message: String(e && e.message) }));
  session.on('close', () => { sessions.delete(session); log({ ev: 'close' }); });
  session.on('pdu', (pdu) => {
    if (pdu.command !== 'submit_sm') log({ ev: 'pdu', command: pdu.command, sequence_number: pdu.sequence_number });
  });
  const bind = (pdu) => {
    if (pdu.system_id !== SYSTEM_ID || pdu.password !== PASSWORD) {
      session.send(pdu.response({ command_status: smpp.ESME_RBINDFAIL }));
      session.close();
      return;
    }
    session.send(pdu.response({ system_id: 'node-smsc' }));
  };
  session.on('bind_transceiver', bind);
  session.on('bind_transmitter', bind);
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('unbind', (pdu) => { session.send(pdu.response()); session.close(); });
  session.on('submit_sm', (pdu) => onSubmit(session, pdu));
  session.on('deliver_sm_resp', () => {});
});

server.listen(0, '127.0.0.1', () => log({ ev: 'listening', port: server.address().port }));

let buffered = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  let nl;
  while ((nl = buffered.indexOf('\n')) >= 0) {
    const line = buffered.slice(0, nl).trim();
    buffered = buffered.slice(nl + 1);
    if (!line) continue;
    const cmd = JSON.parse(line);
    if (cmd.cmd === 'mo') {
      const session = Array.from(sessions).pop();
      const total = cmd.parts.length;
      cmd.parts.forEach((text, i) => {
        const message = total > 1
          ? { udh: Buffer.from([5, 0, 3, cmd.ref & 0xff, total, i + 1]), message: text }
          : { message: text };
        session.deliver_sm({
          source_addr: cmd.source,
          source_addr_ton: 1,
          source_addr_npi: 1,
          destination_addr: cmd.destination,
          data_coding: cmd.data_coding,
          short_message: message,
        });
      });
      log({ ev: 'mo', source: cmd.source, parts: total });
    }
    if (cmd.cmd === 'drop') {
      for (const s of sessions) s.socket.destroy();
      log({ ev: 'dropped', count: sessions.size });
    }
  }
});
process.stdin.on('end', () => process.exit(0));
