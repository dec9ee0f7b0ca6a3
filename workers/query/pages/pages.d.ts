// The page files are bundled as text (wrangler [[rules]] type "Text"): importing one gives its contents.
declare module "*.css" {
  const text: string;
  export default text;
}
declare module "*.js" {
  const text: string;
  export default text;
}
