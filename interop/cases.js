// Argument cases for the tools the suite knows.
//
// Every tool the server lists gets the generic checks, whatever its name:
// schemas and annotations, and bad arguments derived from its input schema
// (an unknown argument, each required argument missing, each argument of
// the wrong type), which must be refused with a tool error before anything
// reaches Plannr. A tool listed below also gets these calls:
//
//   good: calls that must succeed. `args` are the arguments; `upstream` is
//         the exact list of [method, path] requests the call must make to
//         Plannr, in order; `check(structured)` looks at structuredContent
//         (the client has already validated it against the output schema).
//   bad:  calls that must fail with a tool error whose text matches `error`,
//         sending nothing to Plannr.
//
// To cover a new tool, add an entry with at least one good call. The sandbox
// is reset before each tool's calls, so a call may change the sample data.

import assert from 'node:assert/strict';

// Connections and accounts in the sandbox's sample data.
export const SAMPLE_UUID = '8ef67ca5-483a-4dfa-bfb9-ea282aa4ff2c';
export const SAMPLE_LABEL = 'My Fundment Account 1';
const BROKEN_UUID = '7d6c5b4a-3e2f-4a1b-8c9d-0e1f2a3b4c5d'; // its refresh token has expired
const ACCOUNT_UUIDS = ['5f0c1e7a-2b4d-4c6e-8f10-3a5b7c9d1e2f', '9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d'];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CONNECTIONS = '/api/v1/oauth/connections';

export const toolCases = {
  list_oauth_connections: {
    good: [
      {
        name: 'no arguments',
        args: {},
        upstream: [['GET', CONNECTIONS]],
        check(out) {
          assert.equal(out.count, out.connections.length, 'count matches the list');
          assert.ok(out.count >= 5, `the sandbox has at least 5 connections; got ${out.count}`);
          const sample = out.connections.find((c) => c.uuid === SAMPLE_UUID);
          assert.ok(sample, `the list holds ${SAMPLE_UUID}`);
          assert.equal(sample.label, SAMPLE_LABEL);
          for (const c of out.connections) assert.match(c.uuid, UUID);
          assert.ok(
            out.connections.some((c) => c.refresh_token_expires_at === null),
            'a connection whose refresh token never expires has a null expiry',
          );
        },
      },
      {
        name: 'a provider filter',
        args: { provider: 'Fundment' },
        upstream: [['GET', CONNECTIONS]],
        check(out) {
          assert.ok(out.count >= 2, `the sandbox has two Fundment connections; got ${out.count}`);
          for (const c of out.connections) assert.equal(c.provider.name, 'fundment');
        },
      },
      {
        name: 'a status filter and a limit',
        args: { status: 'needs_reauthorization', limit: 1 },
        upstream: [['GET', CONNECTIONS]],
        check(out) {
          assert.deepEqual(
            out.connections.map((c) => c.uuid),
            [BROKEN_UUID],
            'only the connection whose refresh token expired',
          );
        },
      },
    ],
    bad: [
      { name: 'a stray argument', args: { all: true }, error: /unknown argument "all"/ },
      { name: 'a status outside the enum', args: { status: 'broken' }, error: /status/ },
      { name: 'a limit of 0', args: { limit: 0 }, error: /limit/ },
      { name: 'a limit that is not whole', args: { limit: 2.5 }, error: /limit/ },
    ],
  },

  list_plannr_accounts: {
    good: [
      {
        name: 'no arguments',
        args: {},
        upstream: [['GET', '/api/v1/logins']],
        check(out) {
          assert.deepEqual(
            out.accounts.map((a) => a.account_uuid),
            ACCOUNT_UUIDS,
            'the account uuids, not the logins\' own',
          );
        },
      },
    ],
    bad: [],
  },

  // The suite's client cannot ask the person to confirm, so it confirms with
  // the label, as a model does after asking in the chat. Confirmation
  // through the client (elicitation) has checks of its own.
  delete_oauth_connection: {
    good: [
      {
        name: 'confirm_label set to the current label',
        args: { uuid: SAMPLE_UUID, confirm_label: SAMPLE_LABEL },
        upstream: [
          ['GET', CONNECTIONS],
          ['DELETE', `${CONNECTIONS}/${SAMPLE_UUID}`],
        ],
        check(out) {
          assert.equal(out.deleted, true);
          assert.equal(out.outcome, 'deleted');
          assert.equal(out.uuid, SAMPLE_UUID);
        },
      },
    ],
    bad: [
      { name: 'a uuid that is not a UUID', args: { uuid: 'fundment-1', confirm_label: 'x' }, error: /must be a UUID/ },
      {
        name: 'a confirm_label of 256 characters',
        args: { uuid: SAMPLE_UUID, confirm_label: 'x'.repeat(256) },
        error: /confirm_label/,
      },
    ],
  },

  // The suite's client declares no elicitation, so it cannot open a link
  // for the person: it is given the link, as a result and not an error.
  // Opening it through the client has end-to-end tests of its own.
  reauthorize_oauth_connection: {
    good: [
      {
        name: 'a healthy connection needs nothing',
        args: { uuid: SAMPLE_UUID },
        upstream: [['GET', CONNECTIONS]],
        check(out) {
          assert.equal(out.outcome, 'not_needed');
          assert.equal(out.status, 'healthy');
        },
      },
      {
        name: 'a broken connection, for a client that cannot open links',
        args: { uuid: BROKEN_UUID.toUpperCase() },
        upstream: [['GET', CONNECTIONS]],
        check(out) {
          assert.equal(out.outcome, 'link_given');
          assert.equal(out.uuid, BROKEN_UUID, 'the uuid in canonical form');
          assert.equal(out.status, 'needs_reauthorization');
        },
      },
    ],
    bad: [
      { name: 'a uuid that is not a UUID', args: { uuid: 'nucleus' }, error: /must be a UUID/ },
    ],
  },

  rename_oauth_connection: {
    good: [
      {
        name: 'a label with surrounding white space',
        args: { uuid: SAMPLE_UUID, label: '  Fundment (main office)  ' },
        upstream: [['PUT', `${CONNECTIONS}/${SAMPLE_UUID}`]],
        check(out) {
          assert.equal(out.uuid, SAMPLE_UUID);
          assert.equal(out.label, 'Fundment (main office)', 'the label is trimmed');
        },
      },
      {
        name: 'a label beyond ASCII',
        args: { uuid: SAMPLE_UUID, label: 'Fundment – Zoë & Søn 💼' },
        upstream: [['PUT', `${CONNECTIONS}/${SAMPLE_UUID}`]],
        check(out) {
          assert.equal(out.label, 'Fundment – Zoë & Søn 💼', 'the label survives the round trip unchanged');
        },
      },
    ],
    bad: [
      { name: 'a uuid that is not a UUID', args: { uuid: 'fundment-1', label: 'x' }, error: /must be a UUID/ },
      { name: 'a label of only white space', args: { uuid: SAMPLE_UUID, label: '   ' }, error: /must not be empty/ },
      {
        name: 'a label of 256 characters',
        args: { uuid: SAMPLE_UUID, label: 'é'.repeat(256) },
        error: /256 characters long; the limit is 255/,
      },
      { name: 'a label with a newline', args: { uuid: SAMPLE_UUID, label: 'a\nb' }, error: /control or invisible characters/ },
      { name: 'a label with a bidi override', args: { uuid: SAMPLE_UUID, label: 'Fundment \u202e main' }, error: /U\+202E/ },
    ],
  },
};

// wrongValue returns a value that does not have the JSON type a property
// schema asks for, or undefined when the schema names no single type.
function wrongValue(schema) {
  switch (schema?.type) {
    case 'string':
      return 12345;
    case 'integer':
    case 'number':
      return 'not a number';
    case 'boolean':
      return 'yes';
    case 'array':
    case 'object':
      return 'not a structure';
    default:
      return undefined;
  }
}

// genericBadCases derives bad calls from a tool's input schema. good is a
// set of good arguments when the suite knows one: each case then breaks one
// thing in it, and the error must name the argument at fault. Without one
// the cases start from no arguments, and any tool error will do.
export function genericBadCases(tool, good) {
  const schema = tool.inputSchema ?? {};
  const properties = schema.properties ?? {};
  const required = schema.required ?? [];
  const base = good ?? {};
  const naming = (name) => (good ? new RegExp(name) : undefined);
  const cases = [
    {
      name: 'an unknown argument',
      args: { ...base, interop_unknown_argument: 'x' },
      error: naming('interop_unknown_argument'),
    },
  ];
  for (const name of required) {
    const args = { ...base };
    delete args[name];
    cases.push({ name: `the required argument "${name}" missing`, args, error: naming(name) });
  }
  for (const [name, prop] of Object.entries(properties)) {
    const value = wrongValue(prop);
    if (value === undefined) continue;
    cases.push({
      name: `"${name}" of the wrong type (${typeof value} for ${prop.type})`,
      args: { ...base, [name]: value },
      error: naming(name),
    });
  }
  return cases;
}

// corrupt returns a copy of a structuredContent value that its output schema
// must reject, to prove the client's validator is really checking; undefined
// when the schema gives no handle for that.
export function corrupt(outputSchema, value) {
  const [firstRequired] = outputSchema.required ?? [];
  if (firstRequired !== undefined) {
    const copy = structuredClone(value);
    delete copy[firstRequired];
    return copy;
  }
  if (outputSchema.additionalProperties === false) {
    return { ...value, interop_unexpected_property: true };
  }
  return undefined;
}
