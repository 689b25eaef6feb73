/** swagger-ui-dist's helper that names the folder of its files (the interactive docs serve two of them). */
declare module 'swagger-ui-dist/absolute-path.js' {
  export default function getAbsoluteFSPath(): string;
}
