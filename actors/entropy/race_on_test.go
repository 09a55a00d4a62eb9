//go:build race

package entropy

// bytesKeys is the data size of TestAEBytes_GrowWithTheDifference: under
// -race, 50,000 keys keep it to seconds; without, the 100,000 of the
// design's promise.
const bytesKeys = 50_000
