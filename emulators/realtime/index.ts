export { startRealtimeEmulator } from './server.js';
export type { RealtimeEmulator, RealtimeEmulatorOptions } from './server.js';
export { EmulatedRealtimeSession, EMULATOR_SAMPLE_RATE_HZ } from './session.js';
export type { EmulatedItem } from './session.js';
export { defaultResponder } from './responder.js';
export type { Responder, ResponderInput, ResponderReply } from './responder.js';
export { UtteranceScript, UNSCRIPTED_TRANSCRIPT } from './utterances.js';
export { EnergyVad } from './vad.js';
export { ToneGenerator, callerSpeechFrames } from './voice.js';
