// How delete_oauth_connection asks the person to confirm, with the clients
// people use: a client that can show a form gets elicitation/create; one that
// cannot gets a tool error asking for confirm_label. Nothing is deleted
// unless the person confirms.

import assert from 'node:assert/strict';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectSDK } from '../lib/mcp.js';
import { SAMPLE_LABEL, SAMPLE_UUID } from '../cases.js';
import { describeRequests, resultText } from './sdk.js';

const TOOL = 'delete_oauth_connection';

function deletes(requests) {
  return requests.filter((r) => r.method === 'DELETE');
}

export async function deleteChecks(ctx) {
  const { suite, sandbox, target, label } = ctx;
  if (!ctx.toolNames?.includes(TOOL)) {
    suite.note(`the server does not list ${TOOL}: its confirmation checks did not run`);
    return;
  }
  suite.group(`${label}: ${TOOL} confirmation (TypeScript SDK client)`);

  let plain;
  try {
    plain = await connectSDK(target);
    ctx.stderrs.push(plain.stderr);
    await plain.client.listTools();
  } catch (err) {
    suite.fail(`[${label}] connecting for the delete checks`, err);
    return;
  }
  try {
    const refusals = [
      ['without confirm_label, from a client that cannot ask', { uuid: SAMPLE_UUID }, /confirm_label/],
      ['with a confirm_label that is not the label', { uuid: SAMPLE_UUID, confirm_label: 'Transact platform' }, /does not match/],
    ];
    for (const [what, args, pattern] of refusals) {
      await suite.check(`[${label}] ${TOOL} ${what}: refused, nothing deleted`, async () => {
        await sandbox.reset();
        const result = await plain.client.callTool({ name: TOOL, arguments: args });
        assert.equal(result.isError, true, `want a tool error; got ${resultText(result)}`);
        assert.match(resultText(result), pattern);
        assert.match(resultText(result), /Nothing was deleted/);
        const sent = await sandbox.requests();
        assert.deepEqual(deletes(sent), [], `Plannr received ${describeRequests(sent)}`);
      });
    }
  } finally {
    await plain.client.close();
  }

  for (const [action, content, outcome] of [
    ['accept', { confirm: true }, 'deleted'],
    ['decline', undefined, 'declined'],
    ['cancel', undefined, 'cancelled'],
  ]) {
    await suite.check(`[${label}] ${TOOL} with a client that asks the person (elicitation), who answers ${action}`, async () => {
      await sandbox.reset();
      const asked = [];
      const conn = await connectSDK(target, {
        capabilities: { elicitation: {} },
        prepare(client) {
          client.setRequestHandler(ElicitRequestSchema, (request) => {
            asked.push(request.params);
            return content ? { action, content } : { action };
          });
        },
      });
      ctx.stderrs.push(conn.stderr);
      try {
        await conn.client.listTools();
        const result = await conn.client.callTool({ name: TOOL, arguments: { uuid: SAMPLE_UUID } });
        assert.equal(asked.length, 1, 'the server asked the person once, through elicitation/create');
        assert.match(asked[0].message, new RegExp(SAMPLE_LABEL));
        assert.equal(asked[0].requestedSchema?.properties?.confirm?.type, 'boolean', 'the form asks for a confirm tick box');
        assert.notEqual(result.isError, true, resultText(result));
        const out = result.structuredContent;
        assert.equal(out.outcome, outcome);
        const sent = await sandbox.requests();
        if (action === 'accept') {
          assert.equal(out.deleted, true);
          assert.deepEqual(
            deletes(sent).map((r) => `${r.path} ${r.status}`),
            [`/api/v1/oauth/connections/${SAMPLE_UUID} 204`],
            describeRequests(sent),
          );
        } else {
          assert.equal(out.deleted, false);
          assert.deepEqual(deletes(sent), [], `Plannr received ${describeRequests(sent)}`);
        }
        return `outcome ${out.outcome}`;
      } finally {
        await conn.client.close();
      }
    });
  }
}
