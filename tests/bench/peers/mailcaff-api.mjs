// Mailcaff through its API, as a CRM would use it for a list: POST /api/v1/verify/bulk in jobs of 500, then
// GET each job until it is completed. Writes email,status for bench_sim score.
//
//   node mailcaff-api.mjs BASE_URL API_KEY ADDRESSES.txt RESULTS.csv [MODE]
import fs from 'node:fs';

const [base, key, input, output, mode = 'power'] = process.argv.slice(2);
const headers = { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' };
const addresses = fs.readFileSync(input, 'utf8').split('\n').filter((line) => line.length > 0);

const jobs = [];
for (let i = 0; i < addresses.length; i += 500) {
  const emails = addresses.slice(i, i + 500);
  const r = await fetch(`${base}/api/v1/verify/bulk`, { method: 'POST', headers,
    body: JSON.stringify({ emails, mode }) });
  if (r.status !== 202) throw new Error(`bulk submit: HTTP ${r.status} ${await r.text()}`);
  jobs.push({ id: (await r.json()).job_id, emails });
}
const statuses = new Map();
for (const job of jobs) {
  for (;;) {
    const r = await fetch(`${base}/api/v1/verify/bulk/${job.id}`, { headers });
    const body = await r.json();
    if (body.status === 'completed' || body.status === 'failed') {
      for (const result of body.results) statuses.set(result.email, result.status);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
const quote = (s) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
fs.writeFileSync(output, 'email,status\n' + addresses.map((a) => `${quote(a)},${statuses.get(a) ?? ''}\n`).join(''));
