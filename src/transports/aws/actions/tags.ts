// Tags: TagResource, UntagResource, ListResourceTags. Tagging merges inside the key service's
// optimistic change (tagKey/untagKey, authorized as UpdateKey, as REST's PATCH of tags), so
// concurrent tag changes are never lost.
import { requiredStringList, requiredTags, optionalInteger, optionalString } from '../wire.js';
import { keyRef, type AwsActions } from './action-call.js';
import { pageAfter, truncation } from './marker-pages.js';

export const TAG_ACTIONS: AwsActions = {
  async TagResource(call) {
    const reference = keyRef(call);
    await call.keyhaven.keys.tagKey(call.ctx, reference, requiredTags(call.input));
    return {};
  },

  // A tag key the key lacks is no error (AWS).
  async UntagResource(call) {
    const reference = keyRef(call);
    await call.keyhaven.keys.untagKey(call.ctx, reference, requiredStringList(call.input, 'TagKeys', 128));
    return {};
  },

  // Authorized as DescribeKey, as REST's GET /v1/keys/{keyId}, which shows the tags.
  async ListResourceTags(call) {
    const reference = keyRef(call);
    // AWS takes 1-50 here (botocore's model says 1000), 50 by default.
    const limit = optionalInteger(call.input, 'Limit', 1, 50) ?? 50;
    const marker = optionalString(call.input, 'Marker', 1024);
    const key = await call.keyhaven.keys.describeKey(call.ctx, reference);
    const tags = Object.entries(key.tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const { page, nextMarker } = pageAfter(tags, ([tagKey]) => tagKey, limit, marker);
    return {
      Tags: page.map(([TagKey, TagValue]) => ({ TagKey, TagValue })),
      ...truncation(nextMarker),
    };
  },
};
