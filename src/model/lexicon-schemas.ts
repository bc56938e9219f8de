/**
 * What the lexicon knows about each kind of checkable attribute: synonym terms and their
 * compatibility families, which catalog values cannot be checked and why, which surface forms are
 * too ambiguous to match, and where in a listing a mention counts. Which catalog attribute is
 * which kind is decided by its name (ATTRIBUTE_KINDS), so any catalog using these names gets a
 * lexicon. Every rule here is documented, with the calibration numbers behind it, in
 * docs/metrics.md. Browser-safe data only.
 */
import { formOf, singularOf } from './phrases.ts';

export type AttributeKind = 'colour' | 'gender' | 'sleeve' | 'neck' | 'pattern' | 'type';

/** The two parts of a listing's text. */
export type Segment = 'title' | 'description';

const BOTH: readonly Segment[] = ['title', 'description'];
const TITLE: readonly Segment[] = ['title'];

/** A kind's knowledge with the defaults of a plain exclusive attribute checked everywhere. */
function kind(k: Partial<KindKnowledge> & Pick<KindKnowledge, 'terms'>): KindKnowledge {
  return {
    uncheckedValues: {},
    composeByWords: false,
    inflect: false,
    noInflection: [],
    weakForms: [],
    partNouns: [],
    manyValuesPerItem: false,
    segments: BOTH,
    headOnly: false,
    unrecognised: 'not recognised: no term of the lexicon names it',
    ...k,
  };
}

/** A synonym or value term: its canonical name, extra phrases, and its compatibility families. */
export interface TermSpec {
  name: string;
  forms: string[];
  families: string[];
}

/** Result of classifying a catalog value: its families, or why it is not checked. */
export type ValueClass = { families: string[] } | { reason: string };

/** An extra surface form of an attribute, naming a catalog value. */
export interface ExtraForm {
  phrase: string;
  value: string;
  families: string[];
}

export interface KindKnowledge {
  terms: TermSpec[];
  /** Normalised catalog value → families, for values whose words do not say it ("baby children"). */
  valueAliases?: Record<string, string[]>;
  /** Normalised catalog value → why it is not checked. */
  uncheckedValues: Record<string, string>;
  /** Whether a value's families can be read word by word ("dark blue" → blue). */
  composeByWords: boolean;
  /** Classifies a value that no alias or term names whole (product types, by head noun). */
  classifyValue?: (value: string) => ValueClass | undefined;
  /** Extra forms derived from the whole vocabulary (a product type's head noun: "shoes"). */
  extraForms?: (values: readonly string[]) => ExtraForm[];
  /** Whether singular/plural variants of the last word are generated. */
  inflect: boolean;
  /** Words whose singular/plural is another word ("shorts" ≠ "short", "flats" ≠ "flat"). */
  noInflection: string[];
  /**
   * Forms that are more often ordinary words than attribute values here ("metal fastener",
   * "lemon" in a perfume's notes): matched, so they can agree and block shorter matches, but a
   * disagreeing one is never a contradiction (and grounded decoding does not ban it).
   */
  weakForms: string[];
  /**
   * Words that, right after a mention, make it name a part of the item rather than the item
   * ("white dial", "black sole"): such a mention may agree but never contradicts.
   */
  partNouns: string[];
  /** An item may carry several values (colours, "men and women"): one agreeing mention excuses the rest. */
  manyValuesPerItem: boolean;
  /** The parts of a listing whose mentions are checked (and grounded) for this kind. */
  segments: readonly Segment[];
  /** Only the last mention of a segment is checked: the head noun that names the product. */
  headOnly: boolean;
  /** Why a catalog value that no term or rule recognises is not checked. */
  unrecognised: string;
}

export interface LexiconSchema {
  catalog: string;
  attributes: { attribute: string; kind: AttributeKind }[];
}

// ---------------------------------------------------------------------------------------------
// Colour
// ---------------------------------------------------------------------------------------------

/** Colour words and their hue families; a shade between two hues belongs to both. */
const COLOUR_TERMS: TermSpec[] = [
  { name: 'black', forms: ['jet black'], families: ['black'] },
  { name: 'white', forms: [], families: ['white'] },
  { name: 'off white', forms: ['ivory', 'ecru'], families: ['white', 'beige'] },
  { name: 'cream', forms: ['creme'], families: ['white', 'beige', 'yellow'] },
  { name: 'grey', forms: ['gray'], families: ['grey'] },
  { name: 'charcoal', forms: ['anthracite'], families: ['grey', 'black'] },
  { name: 'silver', forms: [], families: ['grey', 'metal', 'white'] },
  { name: 'steel', forms: [], families: ['grey', 'metal'] },
  { name: 'blue', forms: ['royal blue', 'sky blue', 'cobalt'], families: ['blue'] },
  { name: 'navy', forms: ['navy blue'], families: ['blue'] },
  { name: 'indigo', forms: [], families: ['blue', 'purple'] },
  { name: 'turquoise', forms: ['aqua', 'teal'], families: ['blue', 'green'] },
  { name: 'green', forms: ['emerald'], families: ['green'] },
  { name: 'sea green', forms: ['mint'], families: ['green', 'blue'] },
  { name: 'olive', forms: ['khaki'], families: ['green', 'brown', 'beige'] },
  { name: 'lime', forms: [], families: ['green', 'yellow'] },
  { name: 'red', forms: ['crimson', 'scarlet'], families: ['red'] },
  { name: 'maroon', forms: ['burgundy', 'wine'], families: ['red', 'purple', 'brown'] },
  { name: 'rust', forms: [], families: ['red', 'orange', 'brown'] },
  { name: 'coral', forms: ['salmon'], families: ['red', 'orange', 'pink'] },
  { name: 'pink', forms: ['rose'], families: ['pink'] },
  { name: 'magenta', forms: ['fuchsia'], families: ['pink', 'purple'] },
  { name: 'peach', forms: [], families: ['pink', 'orange', 'beige'] },
  { name: 'purple', forms: ['violet', 'plum'], families: ['purple'] },
  { name: 'lavender', forms: ['lilac', 'mauve'], families: ['purple', 'pink'] },
  { name: 'yellow', forms: ['lemon'], families: ['yellow'] },
  { name: 'mustard', forms: [], families: ['yellow', 'orange', 'brown'] },
  { name: 'gold', forms: ['golden'], families: ['yellow', 'metal', 'beige'] },
  { name: 'orange', forms: [], families: ['orange'] },
  { name: 'brown', forms: ['chocolate', 'coffee'], families: ['brown'] },
  { name: 'tan', forms: ['camel'], families: ['brown', 'beige'] },
  { name: 'taupe', forms: ['mole', 'mushroom'], families: ['brown', 'grey', 'beige'] },
  { name: 'copper', forms: ['bronze'], families: ['brown', 'orange', 'metal'] },
  { name: 'beige', forms: ['nude', 'skin'], families: ['beige'] },
  { name: 'brick red', forms: ['brick'], families: ['red', 'orange', 'brown'] },
  { name: 'greenish', forms: [], families: ['green'] },
  { name: 'yellowish', forms: [], families: ['yellow'] },
  { name: 'greyish', forms: ['grayish'], families: ['grey'] },
  { name: 'bluish', forms: ['blueish'], families: ['blue'] },
  { name: 'reddish', forms: [], families: ['red'] },
  { name: 'pinkish', forms: [], families: ['pink'] },
  { name: 'brownish', forms: [], families: ['brown'] },
  { name: 'metal', forms: ['metallic'], families: ['metal', 'grey', 'yellow'] },
];

const COLOUR = kind({
  terms: COLOUR_TERMS,
  uncheckedValues: {
    multi: 'several colours: any colour word agrees, so nothing can contradict',
    other: 'names no colour',
    transparent: 'not a hue',
  },
  composeByWords: true,
  weakForms: [
    // materials and parts: "metal fastener", "stainless steel", "gold-coloured buttons"
    'metal', 'metallic', 'steel', 'gold', 'golden', 'silver', 'copper', 'bronze',
    // skin care and make-up: "gentle on the skin", "nude lipstick"
    'skin', 'nude',
    // fragrance notes, flavours and names: "notes of lemon, lavender and mint"
    'lemon', 'mint', 'rose', 'wine', 'plum', 'coffee', 'chocolate', 'cream', 'creme', 'lime', 'camel', 'salmon', 'lavender', 'peach', 'orange', 'coral', 'tan',
  ],
  partNouns: [
    'dial', 'dials', 'strap', 'straps', 'lens', 'lenses', 'frame', 'frames', 'case', 'hands',
    'sole', 'soles', 'outsole', 'insole', 'midsole', 'laces', 'lace', 'tongue', 'lining',
    'buttons', 'button', 'zip', 'zipper', 'pocket', 'pockets', 'trim', 'trims', 'piping', 'tipping',
    'border', 'borders', 'tape', 'panel', 'panels', 'inserts', 'accents', 'accent', 'highlights',
    'detail', 'details', 'detailing', 'stitching', 'embroidery', 'print', 'prints', 'logo', 'logos',
    'branding', 'lettering', 'text', 'graphic', 'graphics', 'motif', 'motifs', 'stripes', 'stripe',
    // things that are not the item: a fragrance's notes and bottle, a face pack's ingredients
    'musk', 'leaf', 'leaves', 'tea', 'pepper', 'apple', 'flacon', 'bottle', 'liquid', 'heads', 'clay',
  ],
  manyValuesPerItem: true,
});

// ---------------------------------------------------------------------------------------------
// Gender
// ---------------------------------------------------------------------------------------------

/**
 * Gender is checked as male vs female only: the catalogs call kids' items "Men"/"Women" and
 * adults' items "girl"/"boy" ("New Girl Push Top"), so age is not checkable.
 */
const GENDER = kind({
  terms: [
    { name: 'men', forms: ['man', 'mens', 'male', 'gents', 'menswear', 'boys', 'boy'], families: ['male'] },
    { name: 'women', forms: ['woman', 'womens', 'ladies', 'lady', 'female', 'ladieswear', 'girls', 'girl'], families: ['female'] },
    { name: 'unisex', forms: ['kids', 'kid', 'children', 'child'], families: ['male', 'female'] },
    // Styles named after the other sex: "boy leg brief", "boyshorts" on women's underwear.
    { name: 'boy leg', forms: ['boy shorts', 'boyshorts', 'boy short'], families: ['male', 'female'] },
  ],
  valueAliases: { 'baby children': ['male', 'female'] },
  uncheckedValues: {
    divided: "H&M's young-fashion line: not a gender",
    sport: "H&M's sportswear line: not a gender",
  },
  manyValuesPerItem: true,
});

// ---------------------------------------------------------------------------------------------
// Sleeve length
// ---------------------------------------------------------------------------------------------

/** Three-quarter sleeves are long sleeves to the catalog (45 human listings say one for the other). */
const SLEEVE = kind({
  terms: [
    { name: 'short sleeves', forms: ['short sleeved', 'half sleeves', 'half sleeved'], families: ['short'] },
    { name: 'long sleeves', forms: ['long sleeved', 'full sleeves', 'full sleeved'], families: ['long'] },
    { name: 'sleeveless', forms: ['no sleeves'], families: ['none'] },
    {
      name: 'three quarter sleeves',
      forms: ['three quarter sleeved', '3/4 sleeves', '3/4th sleeves', 'three fourth sleeves', '3/4 sleeved'],
      families: ['long', 'three quarter'],
    },
  ],
  inflect: true,
});

// ---------------------------------------------------------------------------------------------
// Neck
// ---------------------------------------------------------------------------------------------

/**
 * Necklines. An item may name two ("a mandarin collar with a V-neckline"), so one agreeing
 * mention excuses the others; collars that the catalog uses for one another (a polo's "ribbed
 * spread collar") share a family.
 */
const NECK = kind({
  terms: [
    { name: 'round neck', forms: ['crew neck', 'round neckline', 'crew neckline'], families: ['round'] },
    { name: 'scoop neck', forms: ['scoop neckline'], families: ['round', 'scoop'] },
    { name: 'v neck', forms: ['v neckline'], families: ['v'] },
    { name: 'polo collar', forms: [], families: ['polo', 'collar'] },
    { name: 'shirt collar', forms: ['spread collar'], families: ['shirt collar', 'collar'] },
    { name: 'mandarin collar', forms: ['band collar', 'chinese collar'], families: ['mandarin'] },
    { name: 'boat neck', forms: ['boat neckline', 'bateau neck'], families: ['boat', 'round'] },
    { name: 'square neck', forms: ['square neckline'], families: ['square'] },
    { name: 'cowl neck', forms: ['cowl neckline'], families: ['cowl'] },
    { name: 'halter neck', forms: ['halterneck', 'halter neckline'], families: ['halter'] },
    { name: 'high neck', forms: ['turtle neck', 'turtleneck', 'mock neck', 'mock collar'], families: ['high'] },
    { name: 'henley neck', forms: [], families: ['henley'] },
    { name: 'off shoulder', forms: ['off the shoulder'], families: ['off shoulder'] },
    { name: 'one shoulder', forms: [], families: ['one shoulder'] },
    { name: 'strapless', forms: [], families: ['strapless'] },
    { name: 'keyhole neck', forms: [], families: ['keyhole'] },
    { name: 'tie up neck', forms: [], families: ['tie up'] },
    { name: 'u neck', forms: [], families: ['round', 'u'] },
  ],
  uncheckedValues: {
    'shoulder straps': 'straps are not a neckline',
    hood: 'a hood is worn over any neckline',
  },
  manyValuesPerItem: true,
});

// ---------------------------------------------------------------------------------------------
// Pattern
// ---------------------------------------------------------------------------------------------

/**
 * Only solid, striped, checked and dotted are mutually exclusive. "Printed" is not checked: the
 * catalog's solid, striped and checked items carry prints (2,196 flags on solid Myntra items),
 * and a print can be anything. Only the title is checked: descriptions name patterned details of
 * solid items ("three stripes on the shoulders", "checked detailing inside the collar").
 */
const ANY_PATTERN = ['striped', 'checked', 'dotted'];
const PATTERN = kind({
  terms: [
    { name: 'solid', forms: [], families: ['solid'] },
    { name: 'striped', forms: ['stripes', 'stripe', 'pinstriped', 'pinstripes'], families: ['striped'] },
    { name: 'checked', forms: ['checks', 'check', 'plaid', 'tartan', 'gingham'], families: ['checked'] },
    { name: 'dotted', forms: ['polka dots', 'polka dot', 'polka dotted', 'spotted'], families: ['dotted'] },
  ],
  valueAliases: {
    patterned: ANY_PATTERN,
    'all over pattern': ANY_PATTERN,
    dot: ['dotted'],
  },
  uncheckedValues: {
    printed: 'not exclusive: solid, striped and checked items carry prints',
    'placement print': 'not exclusive (a print)',
    'front print': 'not exclusive (a print)',
  },
  segments: TITLE,
  unrecognised: 'not a mutually exclusive pattern named in text (a material, finish, detail or mix)',
});

// ---------------------------------------------------------------------------------------------
// Product type
// ---------------------------------------------------------------------------------------------

/** Head nouns that are spellings of one another, mapped to one family. */
const TYPE_SYNONYMS: Record<string, string> = {
  tee: 'tshirt',
  jumper: 'sweater',
  pullover: 'sweater',
  jean: 'trouser',
  pant: 'trouser',
  kurti: 'kurta',
  deo: 'deodorant',
  body: 'bodysuit',
  handbag: 'bag',
  eyeliner: 'eyeliner',
};

/**
 * Groups of heads the catalogs use for one another (each measured on human listings, see
 * docs/metrics.md): a head agrees with every head of a group it is in.
 */
const TYPE_GROUPS: Record<string, string[]> = {
  footwear: ['shoe', 'heel', 'flat', 'sandal', 'sneaker', 'trainer', 'boot', 'bootie', 'loafer', 'ballerina', 'pump', 'wedge', 'slipper', 'floater', 'mule', 'espadrille', 'clog', 'moccasin', 'slip'],
  bag: ['bag', 'clutch', 'backpack', 'rucksack', 'tote', 'satchel', 'sling', 'pouch', 'duffel', 'shopper'],
  neckwear: ['necklace', 'chain', 'pendant'],
  legwear: ['trouser', 'legging', 'jegging', 'tight', 'stocking', 'capri', 'jogger', 'chino', 'churidar', 'salwar', 'patiala'],
  outerwear: ['jacket', 'coat', 'blazer', 'parka', 'anorak', 'gilet', 'waistcoat', 'hoodie'],
  onepiece: ['jumpsuit', 'playsuit', 'dungaree', 'romper'],
  knitwear: ['sweater', 'cardigan', 'sweatshirt', 'hoodie'],
  kurta: ['kurta', 'tunic'],
  shirtlike: ['shirt', 'blouse'],
  swimtop: ['bra', 'bikini'],
  briefs: ['brief', 'boxer', 'trunk', 'thong', 'tanga', 'brazilian', 'hipster', 'shortie', 'knicker', 'panty'],
  skincare: ['cream', 'moisturiser', 'lotion', 'serum', 'gel', 'toner'],
  undershirt: ['vest', 'tshirt'],
  nightwear: ['nightdress', 'babydoll', 'gown', 'nightgown'],
  headwear: ['cap', 'hat', 'beanie'],
};

/** Generic heads that agree with every head they name (a "top" may be a t-shirt or a blouse). */
const TYPE_HYPERNYMS: Record<string, string[]> = {
  top: ['tshirt', 'blouse', 'shirt', 'vest', 'camisole', 'tunic', 'bodysuit', 'sweater', 'bra', 'bikini', 'crop'],
  bottom: ['trouser', 'short', 'legging', 'tight', 'capri', 'jogger', 'brief', 'thong', 'tanga', 'brazilian', 'hipster', 'shortie', 'knicker', 'panty'],
};

/** Two-word heads that are one noun. */
const TWO_WORD_HEADS = new Set(['flip flop', 'flip flops', 't shirt', 't shirts', 'eye liner', 'baby doll', 'baby dolls']);

/**
 * Values not checked as a product type: a set's or gift's title names its parts ("kurta with
 * churidar and dupatta"), and "other …" names no type.
 */
const UNCHECKED_TYPE_HEADS: Record<string, string> = {
  set: "a set's title names its parts",
  gift: 'a gift names its contents',
  other: 'names no type',
  accessory: 'names no type',
  costume: 'names no type',
};

/** Heads of a product-type value: "Leggings/Tights" → leggings, tights; "Casual Shoes" → shoes. */
function typeHeads(value: string): string[] {
  return value
    .split(/\/| and |,/i)
    .map(formOf)
    .filter((p) => p.length > 0)
    .map((p) => {
      const ws = p.split(' ');
      const lastTwo = ws.slice(-2).join(' ');
      return ws.length >= 2 && TWO_WORD_HEADS.has(lastTwo) ? lastTwo : ws[ws.length - 1];
    });
}

function typeFamily(head: string): string {
  const s = singularOf(head.replace(/ /g, ''));
  return TYPE_SYNONYMS[s] ?? s;
}

/** A head's families: itself, the groups it is in, and for a hypernym everything it names. */
function headFamilies(family: string): string[] {
  const named = [family, ...(TYPE_HYPERNYMS[family] ?? [])];
  const out = new Set(named);
  for (const f of named) for (const [group, members] of Object.entries(TYPE_GROUPS)) if (members.includes(f)) out.add(group);
  return [...out];
}

function classifyType(value: string): ValueClass | undefined {
  const heads = typeHeads(value);
  if (heads.length === 0) return undefined;
  const words = formOf(value).split(' ');
  for (const w of words) {
    const reason = UNCHECKED_TYPE_HEADS[singularOf(w)];
    if (reason) return { reason };
  }
  return { families: [...new Set(heads.map(typeFamily).flatMap(headFamilies))] };
}

/**
 * A head noun alone names a value ("shoes" for Casual Shoes) when it is itself a value or the
 * head of at least two values; otherwise only the whole value matches ("lip liner", not "liner").
 */
function typeHeadForms(values: readonly string[]): ExtraForm[] {
  const byFamily = new Map<string, string[]>();
  for (const v of values) for (const h of typeHeads(v)) byFamily.set(typeFamily(h), [...(byFamily.get(typeFamily(h)) ?? []), v]);
  const wholeValues = new Set(values.map((v) => typeFamily(formOf(v))));
  const out: ExtraForm[] = [];
  for (const v of values) {
    const cls = classifyType(v);
    if (!cls || 'reason' in cls) continue;
    for (const h of typeHeads(v)) {
      const family = typeFamily(h);
      if ((byFamily.get(family)?.length ?? 0) >= 2 || wholeValues.has(family)) out.push({ phrase: h, value: v, families: headFamilies(family) });
    }
  }
  return out;
}

const TYPE = kind({
  terms: [
    { name: 't shirt', forms: ['tee', 'tees'], families: headFamilies('tshirt') },
    { name: 'jumper', forms: ['pullover'], families: headFamilies('sweater') },
    { name: 'top', forms: [], families: headFamilies('top') },
    { name: 'eye liner', forms: [], families: ['eyeliner'] },
    { name: 'jersey', forms: [], families: headFamilies('tshirt') },
  ],
  classifyValue: classifyType,
  extraForms: typeHeadForms,
  inflect: true,
  noInflection: ['shorts', 'jeans', 'briefs', 'flats', 'tights', 'pants', 'glasses', 'sunglasses', 'boxers', 'leggings', 'trousers', 'capris', 'heels'],
  // "tie-top", "tie belt": the verb, not the necktie; "jersey" is also a fabric ("jersey top")
  weakForms: ['tie', 'ties', 'jersey'],
  // Only the head noun of the title — its last product-type mention — names the product.
  segments: TITLE,
  headOnly: true,
  unrecognised: 'not recognised: no head noun',
});

export const KIND_KNOWLEDGE: Record<AttributeKind, KindKnowledge> = {
  colour: COLOUR,
  gender: GENDER,
  sleeve: SLEEVE,
  neck: NECK,
  pattern: PATTERN,
  type: TYPE,
};

/** Catalog attribute names and the kind each is checked as. */
export const ATTRIBUTE_KINDS: Record<string, AttributeKind> = {
  base_colour: 'colour',
  colour: 'colour',
  colour_master: 'colour',
  gender: 'gender',
  index_group: 'gender',
  sleeve_length: 'sleeve',
  neck: 'neck',
  pattern: 'pattern',
  article_type: 'type',
  product_type: 'type',
};

/** The lexicon schema of a catalog: its attributes that have a known kind. */
export function schemaFor(catalog: string, attributeNames: readonly string[]): LexiconSchema {
  return {
    catalog,
    attributes: attributeNames.filter((a) => a in ATTRIBUTE_KINDS).map((attribute) => ({ attribute, kind: ATTRIBUTE_KINDS[attribute] })),
  };
}
