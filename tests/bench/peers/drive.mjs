// Drives an npm email verifier over the benchmark's workload, as its users would, at a given concurrency.
// DNS goes to the simulator (dns.setServers), and host names are looked up there too, so the peers' SMTP
// connections to port 25 reach the simulator's MX hosts on 127.0.1.x. Writes email,status (valid, invalid,
// disposable, risky, unknown) for bench_sim score.
//
//   node drive.mjs PEER DNS_SERVER ADDRESSES.txt RESULTS.csv CONCURRENCY
//   PEER: deep-email-validator | email-validator-js; NODE_PATH: where npm installed them.
import dns from 'node:dns';
import fs from 'node:fs';
import net from 'node:net';
import { createRequire } from 'node:module';

const [peer, server, input, output, concurrencyText] = process.argv.slice(2);
const concurrency = Math.max(1, parseInt(concurrencyText || '10', 10));
const require = createRequire(process.env.NODE_PATH ? process.env.NODE_PATH + '/' : import.meta.url);

dns.setServers([server]);
const resolver = new dns.Resolver();
resolver.setServers([server]);
const systemLookup = dns.lookup;
dns.lookup = function lookup(hostname, options, callback) {
  if (typeof options === 'function') { callback = options; options = {}; }
  if (typeof options === 'number') options = { family: options };
  options = options || {};
  if (net.isIP(hostname)) return systemLookup.call(dns, hostname, options, callback);
  resolver.resolve4(hostname, (err, addresses) => {
    if (err || addresses.length === 0) return systemLookup.call(dns, hostname, options, callback);
    if (options.all) callback(null, addresses.map((address) => ({ address, family: 4 })));
    else callback(null, addresses[0], 4);
  });
};

let verify;
if (peer === 'deep-email-validator') {
  const { validate } = require('deep-email-validator');
  verify = async (email) => {
    const r = await validate({ email, sender: 'probe@bench.test', validateRegex: true, validateMx: true,
      validateTypo: true, validateDisposable: true, validateSMTP: true });
    if (r.valid) return 'valid';
    if (r.reason === 'disposable') return 'disposable';
    if (r.reason === 'typo') return 'risky';
    if (r.reason === 'smtp') {
      const why = String(r.validators?.smtp?.reason || '');
      // Its own words for a rejected recipient; anything else (timeouts, refusals) is no answer.
      return /not found|does not exist|unknown|invalid|rejected/i.test(why) ? 'invalid' : 'unknown';
    }
    return 'invalid'; // regex, mx
  };
} else if (peer === 'email-validator-js') {
  const { verifyEmail } = require('@emailcheck/email-validator-js');
  verify = async (email) => {
    const r = await verifyEmail({ emailAddress: email, verifyMx: true, verifySmtp: true, smtpPort: 25,
      timeout: 10000, checkDisposable: true, checkFree: false, suggestDomain: false });
    if (!r.validFormat || r.validMx === false) return 'invalid';
    if (r.isDisposable) return 'disposable';
    if (r.validSmtp === true) return 'valid';
    if (r.validSmtp === false) return 'invalid';
    return 'unknown';
  };
} else {
  console.error(`unknown peer ${peer}`);
  process.exit(2);
}

const addresses = fs.readFileSync(input, 'utf8').split('\n').filter((line) => line.length > 0);
const results = new Array(addresses.length);
let next = 0;
async function worker() {
  while (next < addresses.length) {
    const i = next++;
    try {
      results[i] = await verify(addresses[i]);
    } catch (e) {
      results[i] = 'error';
    }
  }
}
await Promise.all(Array.from({ length: concurrency }, worker));
const quote = (s) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
fs.writeFileSync(output, 'email,status\n' + addresses.map((a, i) => `${quote(a)},${results[i]}\n`).join(''));
process.exit(0);
