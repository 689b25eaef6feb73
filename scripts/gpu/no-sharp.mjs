// Stands in for sharp (native image codecs) in the GPU check bundle, which decodes no images.
export default function sharp() {
  throw new Error('image files are not supported in the GPU check bundle (sharp is left out); use the full install');
}
