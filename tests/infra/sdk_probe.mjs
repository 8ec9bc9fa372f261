// What a default AWS SDK for JavaScript v3 client does on this host: builds
// an STSClient with no options (the Node default chain of
// @aws-sdk/credential-providers, the region from the environment and the
// shared files), calls GetCallerIdentity, and prints one JSON line: the
// region and access key id it resolved (or the error of each), and the
// call's answer or its error. Run by tests/infra/sdk_conformance.py.
import { STSClient, GetCallerIdentityCommand } from "@aws-sdk/client-sts";

const out = { region: null, region_error: null, access_key_id: null, credential_features: null,
  credentials_error: null, user_id: null, arn: null, error: null };
const client = new STSClient({});
try {
  out.region = await client.config.region();
} catch (e) {
  out.region_error = String(e && e.message);
}
try {
  const c = await client.config.credentials();
  out.access_key_id = c.accessKeyId;
  out.credential_features = c.$source ? Object.keys(c.$source) : null;
} catch (e) {
  out.credentials_error = String(e && e.message);
}
try {
  const r = await client.send(new GetCallerIdentityCommand({}));
  out.user_id = r.UserId;
  out.arn = r.Arn;
} catch (e) {
  out.error = String(e && e.message);
}
process.stdout.write(JSON.stringify(out) + "\n");
