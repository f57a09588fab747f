/** The app's version, reported by /api/health; a test keeps it equal to package.json. */
export const APP_VERSION = '0.1.0';
