import mqttPacket from 'mqtt-packet'
import { afterEach, describe, expect, it, vi } from 'vitest'

type BufferList = {
  append(buf: Buffer): BufferList
  slice(start?: number, end?: number): Buffer
  readUInt8(offset: number): number
  readUInt16BE(offset: number): number
  toString(encoding: BufferEncoding, start?: number, end?: number): string
}

// The buffer list mqtt-packet's parser reads from (bl, patched: patches/bl+6.1.6.patch), taken from
// a parser so that it is the copy the broker runs.
const BufferListOf = (mqttPacket.parser() as unknown as { _list: { constructor: new () => BufferList } })._list.constructor

describe("the parser's buffer list reads within its first buffer without slicing", () => {
  afterEach(() => vi.restoreAllMocks())

  function list() {
    // A topic's length and text split across two reads, as TCP may cut them.
    return new BufferListOf().append(Buffer.from([0x30, 0x00, 0x05, 0x61, 0x62])).append(Buffer.from([0x63, 0x64, 0x65, 0xff]))
  }

  it('reads bytes, numbers and text held by the first buffer from it', () => {
    const bl = list()
    const slice = vi.spyOn(Object.getPrototypeOf(bl), 'slice')
    expect(bl.readUInt8(0)).toBe(0x30)
    expect(bl.readUInt16BE(1)).toBe(5)
    expect(bl.readUInt8(4)).toBe(0x62)
    expect(bl.toString('utf8', 3, 5)).toBe('ab')
    expect(bl.toString('utf8', 5, 5)).toBe('')
    expect(slice).not.toHaveBeenCalled()
  })

  it('reads what crosses into the next buffer as before', () => {
    const bl = list()
    expect(bl.readUInt16BE(4)).toBe(0x6263)
    expect(bl.readUInt8(8)).toBe(0xff)
    expect(bl.toString('utf8', 3, 8)).toBe('abcde')
    expect(bl.toString('latin1', 8, 9)).toBe('\u00ff')
    expect(() => bl.readUInt8(9)).toThrow(RangeError)
  })
})
