import type { Archive } from '../archive/index.js';
import type { CallerProfile, ProfileLookup } from './types.js';

/** The agents' profile lookup over the archive's Redis-cached profile repository. */
export function archiveProfileLookup(archive: () => Promise<Archive>): ProfileLookup {
  return async (userId) => {
    const profile = await (await archive()).profiles.get(userId);
    return profile ? ({ userId, displayName: profile.displayName, callCount: profile.callCount, lastCallAt: profile.lastCallAt } satisfies CallerProfile) : undefined;
  };
}
