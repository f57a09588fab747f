/**
 * `resultInformation.subCode` values of ACS media operations that change what the app does.
 *
 * Source: the Azure SDK's own constants (azure-sdk-for-java `ReasonCode`, the .NET
 * `MediaEventReasonCode`), which match the ACS troubleshooting table. Note that 8511 is a failed
 * prompt and 8534 an incorrect DTMF tone — neither is "speech not matched" (that is 8547/8563).
 */
export const ACS_SUBCODES = {
  completedSuccessfully: 0,
  /** RecognizeFailed: the caller said nothing before the initial silence timeout. */
  recognizeInitialSilenceTimeout: 8510,
  /** RecognizeFailed: the prompt of the recognize operation could not be played. */
  recognizePlayPromptFailed: 8511,
  /** RecognizeCompleted: stop tone detected. */
  recognizeStopToneDetected: 8514,
  /** RecognizeCompleted: max DTMF digits received. */
  recognizeMaxDigitsReceived: 8531,
  /** RecognizeFailed: inter-digit timeout. */
  recognizeInterDigitTimeout: 8532,
  /** RecognizeCompleted: a DTMF option matched. */
  recognizeDtmfOptionMatched: 8533,
  /** RecognizeFailed: incorrect DTMF tone for a choice. */
  recognizeIncorrectToneDetected: 8534,
  /** RecognizeCompleted: a speech option matched. */
  recognizeSpeechOptionMatched: 8545,
  /** RecognizeFailed: speech did not match any choice. */
  recognizeSpeechOptionNotMatched: 8547,
  /** RecognizeFailed: speech was heard but not recognized. */
  recognizeSpeechNotRecognized: 8563,
  /** Recognize/Play failed: the Cognitive Services connection failed (check the ACS↔AI link). */
  cognitiveServicesConnectionError: 8564,
  /** PlayFailed: file play source has an invalid format. */
  playInvalidFileFormat: 8535,
  /** PlayFailed: file play source could not be downloaded. */
  playDownloadFailed: 8536,
  /** PlayFailed: text-to-speech failed in Cognitive Services. */
  playCognitiveServicesError: 8565,
  /** PlayFailed: text or SSML source was empty. */
  playTextOrSsmlEmpty: 8582,
  /** Any operation: unknown internal error. */
  unspecifiedError: 9999,
} as const;

interface WithResult {
  readonly resultInformation?: { readonly subCode?: number | undefined } | undefined;
}

const subCode = (data: WithResult) => data.resultInformation?.subCode;

/** The caller stayed silent: re-prompt, then after N silences say goodbye. */
export function isSilenceTimeout(data: WithResult): boolean {
  return subCode(data) === ACS_SUBCODES.recognizeInitialSilenceTimeout;
}

/** The caller spoke but nothing usable was recognized: ask them to repeat (counts like silence). */
export function isNoMatch(data: WithResult): boolean {
  const code = subCode(data);
  return (
    code === ACS_SUBCODES.recognizeSpeechNotRecognized ||
    code === ACS_SUBCODES.recognizeSpeechOptionNotMatched ||
    code === ACS_SUBCODES.recognizeIncorrectToneDetected ||
    code === ACS_SUBCODES.recognizeInterDigitTimeout
  );
}

/** Speech services are broken for this call; re-prompting will not help. */
export function isSpeechServiceFailure(data: WithResult): boolean {
  const code = subCode(data);
  return (
    code === ACS_SUBCODES.cognitiveServicesConnectionError ||
    code === ACS_SUBCODES.playCognitiveServicesError ||
    code === ACS_SUBCODES.recognizePlayPromptFailed
  );
}
