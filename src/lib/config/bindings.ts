/**
 * Settings the Functions host needs when it indexes the functions (trigger binding metadata), before
 * the app and its validated configuration exist. Read here without the settings table, whose schema
 * library is too heavy for cold start; the table reads the same variables with the same defaults and
 * validates them, so an invalid value stops every function with its name before a binding matters.
 */

/** The default of `WEBPUBSUB_HUB`, shared with the settings table. */
export const DEFAULT_MEDIA_HUB = 'media';

/** The media hub the webPubSubTrigger bindings name (`WEBPUBSUB_HUB`, trimmed, or the default). */
export function mediaHubBinding(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return env.WEBPUBSUB_HUB?.trim() || DEFAULT_MEDIA_HUB;
}
