// The servers a flow needs before Sesame starts (a webhook sink, a fake provider, a web app)
// listen on a port the system picks, and the script tells run.sh which: no port is picked,
// released and hoped to stay free. run.sh (`flow`) reads `PORTS p1 p2 …`, starts Sesame
// pointed at them and answers with Sesame's URL on the script's stdin.
import { once } from "node:events";
import http from "node:http";
import readline from "node:readline";

/** Listens on 127.0.0.1, port 0; the port the system gave. */
export async function listen(server) {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return server.address().port;
}

/** Announces the ports and waits (at most a minute) for the URL of the Sesame started for them. */
export async function handshake(ports) {
  process.stdout.write(`PORTS ${ports.join(" ")}\n`);
  const rl = readline.createInterface({ input: process.stdin });
  const line = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no Sesame URL on stdin within 60 s")), 60_000);
    rl.once("line", (l) => (clearTimeout(timer), resolve(l)));
    rl.once("close", () => (clearTimeout(timer), reject(new Error("stdin closed before the Sesame URL"))));
  });
  rl.close();
  return line.trim();
}

/**
 * A webhook receiver for Sesame's email transport (deliveries `{kind, to, url, token, …}`
 * pushed to `mails`), announced like any other server: the Sesame URL, the mails, and the
 * receiver to close at the end.
 */
export async function webhookInbox() {
  const mails = [];
  const receiver = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      try {
        mails.push(JSON.parse(body));
      } catch {}
      res.end("ok");
    });
  });
  const baseURL = await handshake([await listen(receiver)]);
  return { baseURL, mails, receiver };
}
