// Checks emails' HTML and CSS against the caniemail.com data, for the mail clients asked.
//
// Reads JSON on stdin: {"clients": ["gmail.android", ...], "emails": {"name": "<html>...", ...}}
// Writes JSON on stdout: {"data": "<date of the caniemail data>", "features": [every feature's title],
//   "emails": {"name": {"client": {"unsupported": [issue], "partial": [issue]}}}}
// where an issue is {"feature": "display:flex", "line": 12, "notes": ["..."]} (line may be null).
// tests/test_email_clients.py runs it; `npm ci --prefix tests/email_clients` installs its one package.
import { caniemail, rawData } from 'caniemail';

const read = async () => {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
};

const issueList = (issues) =>
  (issues ?? []).map((issue) => ({
    feature: issue.title,
    line: issue.position?.start?.line ?? null,
    notes: issue.notes
  }));

const { clients, emails } = await read();
const report = {};
for (const [name, html] of Object.entries(emails)) {
  const { issues } = caniemail({ clients, html });
  report[name] = Object.fromEntries(
    clients.map((client) => [
      client,
      {
        unsupported: issueList(issues.errors.get(client)),
        partial: issueList(issues.warnings.get(client))
      }
    ])
  );
}
const features = rawData.data.map((feature) => feature.title);
process.stdout.write(JSON.stringify({ data: rawData.last_update_date, features, emails: report }));
