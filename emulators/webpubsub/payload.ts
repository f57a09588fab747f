/**
 * One message body as it travels through the emulator, in the three shapes the wire needs:
 * the bytes a raw WebSocket client receives, the JSON literal placed after `"data":` in a
 * subprotocol message, and the content type of an upstream request. Each shape is computed at
 * most once per message, however many recipients it has.
 */
export type DataType = 'text' | 'binary' | 'json';

export class Payload {
  private rawBytes: Buffer | undefined;
  private literal: string | undefined;

  private constructor(
    readonly dataType: DataType,
    rawBytes: Buffer | undefined,
    literal: string | undefined,
  ) {
    this.rawBytes = rawBytes;
    this.literal = literal;
  }

  /** A frame from a raw WebSocket client: text frames are text, binary frames are binary. */
  static fromFrame(bytes: Buffer, isBinary: boolean): Payload {
    return new Payload(isBinary ? 'binary' : 'text', bytes, undefined);
  }

  /** A REST body or upstream response; `json` bodies must already be valid JSON text. */
  static fromBody(bytes: Buffer, dataType: DataType): Payload {
    return new Payload(dataType, bytes, undefined);
  }

  /** The `data` of a subprotocol message, already parsed by JSON.parse. */
  static fromProtocolData(data: unknown, dataType: DataType): Payload | undefined {
    switch (dataType) {
      case 'text':
        return typeof data === 'string' ? new Payload('text', undefined, undefined).withText(data) : undefined;
      case 'binary':
        return typeof data === 'string' ? new Payload('binary', Buffer.from(data, 'base64'), JSON.stringify(data)) : undefined;
      case 'json':
        return data === undefined ? undefined : new Payload('json', undefined, JSON.stringify(data));
    }
  }

  private withText(text: string): Payload {
    this.rawBytes = Buffer.from(text, 'utf8');
    this.literal = JSON.stringify(text);
    return this;
  }

  /** True when a raw client must receive this as a binary frame. */
  get isBinary(): boolean {
    return this.dataType === 'binary';
  }

  /** The bytes a raw client receives (and an upstream request carries). */
  get bytes(): Buffer {
    if (this.rawBytes === undefined) this.rawBytes = Buffer.from(this.literal ?? '', 'utf8');
    return this.rawBytes;
  }

  /** The JSON value written after `"data":` in a subprotocol message. */
  get jsonLiteral(): string {
    if (this.literal === undefined) {
      const bytes = this.rawBytes ?? Buffer.alloc(0);
      if (this.dataType === 'binary') this.literal = `"${bytes.toString('base64')}"`;
      else if (this.dataType === 'text') this.literal = JSON.stringify(bytes.toString('utf8'));
      else this.literal = bytes.length === 0 ? 'null' : bytes.toString('utf8');
    }
    return this.literal;
  }

  get contentType(): string {
    return CONTENT_TYPES[this.dataType];
  }
}

const CONTENT_TYPES: Record<DataType, string> = {
  text: 'text/plain',
  binary: 'application/octet-stream',
  json: 'application/json',
};

/** Maps an HTTP Content-Type to a data type; undefined when the emulator (and the service) refuse it. */
export function dataTypeOfContentType(contentType: string | undefined): DataType | undefined {
  const mediaType = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (mediaType === 'application/json' || mediaType === 'text/json') return 'json';
  if (mediaType === 'text/plain') return 'text';
  if (mediaType === 'application/octet-stream' || mediaType === '') return 'binary';
  return undefined;
}
