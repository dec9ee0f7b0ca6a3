/**
 * A conversion: what an advertiser reports after a click (`POST /v1/conversions`), attributed to the
 * click its click id names (domain/click-id.ts) and counted in that click's cells, in the click's time
 * bucket. One shape from the edge to the advertiser's ledger, the campaign object and the archive.
 */
/** What a click id says about its click: the dimensions its conversion is counted under, and when. */
export interface ClickClaims {
  campaign_id: string;
  ad_id: string;
  ad_group_id: string | null;
  publisher_id: string | null;
  variant: string | null;
  country: string;
  device_type: string;
  os: string;
  ad_format: string | null;
  /** The click's event time (epoch ms): its conversions are counted in this time bucket. */
  timestamp: number;
}

export interface Conversion extends Omit<ClickClaims, "timestamp"> {
  /** The advertiser's own id of the conversion: a repeat for the same advertiser counts once. */
  conversion_id: string;
  click_id: string;
  advertiser_id: string;
  /** The click's event time: the conversion is counted in this time bucket. */
  click_timestamp: number;
  /** When the conversion happened (as reported, else when it was received), epoch ms. */
  timestamp: number;
  received_at: number;
  name: string | null;
  /** In the advertiser's currency units, as posted (null: none given). Counted in millionths, so sums are exact. */
  value: number | null;
  currency: string | null;
}
