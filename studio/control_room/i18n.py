"""Every text of the control room in English and Simplified Chinese.

One flat table keyed by a short id, so a missing translation is a test
failure (both languages are required), not a blank label on air.
"""

from __future__ import annotations

LANGUAGES: dict[str, str] = {"zh": "中文", "en": "English"}
DEFAULT_LANGUAGE = "zh"

TEXTS: dict[str, tuple[str, str]] = {
    # the live room
    "comments": ("Comments", "评论"),
    "no_comments_yet": ("No comments yet.", "还没有评论。"),
    "wants_line": ("{n} want {name}", "{n} 人想要 {name}"),
    "hide": ("Hide", "隐藏"),
    "mute": ("Mute", "禁言"),
    "hidden_mark": ("hidden", "已隐藏"),
    "muted_mark": ("muted", "已禁言"),
    "pin_text": ("Pinned message", "置顶消息"),
    "pin": ("Pin", "置顶"),
    "unpin": ("Unpin", "取消置顶"),
    "pinned_now": ("Pinned: {text}", "已置顶：{text}"),
    "room_connected": ("{n} pages in the room", "评论区在线 {n} 个页面"),
    "draw": ("Lucky draw", "福袋"),
    "draw_prize": ("Prize", "奖品"),
    "draw_rule": ("How to enter", "参与方式"),
    "draw_rule_comment": ("Comment a keyword", "评论口令"),
    "draw_rule_order": ("Order during the draw", "期间下单"),
    "draw_keyword": ("Keyword", "口令"),
    "draw_seconds": ("Seconds", "时长（秒）"),
    "draw_start": ("Start draw", "发福袋"),
    "draw_started": ("Lucky draw started: {prize}", "福袋已开始：{prize}"),
    "past_draws": ("Draws this show", "本场福袋"),
    "col_prize": ("Prize", "奖品"),
    "col_status": ("Status", "状态"),
    "col_entrants": ("Entrants", "参与人数"),
    "col_winner": ("Winner", "中奖者"),
    # app and navigation
    "app_title": ("farmlive control room", "farmlive 直播控制台"),
    "nav_go_live": ("Go live", "开播"),
    "nav_catalog": ("Catalog", "商品"),
    "nav_analytics": ("Analytics", "数据"),
    "language": ("Language", "语言"),
    "studio_unreachable": ("The studio server is not answering", "工作室服务器没有响应"),
    "studio_hint": (
        "Start it with `farmlive up` (the control room reads FARMLIVE_URL, FARMLIVE_KEY, FARMLIVE_DATA_DIR).",
        "请先运行 `farmlive up`（控制台读取 FARMLIVE_URL、FARMLIVE_KEY、FARMLIVE_DATA_DIR）。",
    ),
    "studio_key": ("Studio key", "直播间密钥"),
    "studio_key_help": (
        "Printed by `farmlive up` and saved in DATA_DIR/studio.key.",
        "由 `farmlive up` 打印，并保存在 DATA_DIR/studio.key。",
    ),
    "wrong_key": ("That is not the studio key", "直播间密钥不正确"),
    # show start / end
    "not_live": ("Not live", "未开播"),
    "live_badge": ("LIVE", "直播中"),
    "live_since": ("since {time}", "{time} 开始"),
    "show_title": ("Show title", "直播标题"),
    "show_title_default": ("Fresh from the farm", "产地直发 新鲜到家"),
    # the host's words: 开播/下播 (the farmer's phone says 开始推流/停止推流: start/stop camera)
    "start_show": ("Start show", "开播"),
    "end_show": ("End show", "下播"),
    "end_confirm": ("End the show for every viewer?", "确定下播？所有观众的直播将结束。"),
    "end_yes": ("Yes, end the show", "确定下播"),
    "show_started": ("Show started: {title}", "已开播：{title}"),
    "show_ended": ("Show ended", "已下播"),
    # the one show state viewers and the phone see (studio/showstate.py)
    "viewers_see_starting": (
        "Viewers see “Starting soon”, not the camera, until you start the show.",
        "开播前观众看到“即将开播”，看不到摄像头画面。",
    ),
    "viewers_see_ended": (
        "Show #{id} has ended: viewers see the end slate, the phone is told.",
        "第 {id} 场直播已结束：观众看到结束画面，手机端已收到通知。",
    ),
    "replay_open": ("Replay", "回放"),
    "sale_closed": ("SOLD OUT · sale closed", "已售罄 · 停止销售"),
    # products on air
    "products": ("Products", "商品"),
    "no_products": ("No active products. Add some on the Catalog page.", "没有在售商品，请到“商品”页添加。"),
    "on_air_button": ("On air", "上屏"),
    "on_air_now": ("On air now", "正在上屏"),
    "on_air_badge": ("ON AIR", "已上屏"),
    "nothing_on_air": ("Nothing on air: the video shows no product card.", "当前没有商品上屏。"),
    "clear": ("Clear", "下屏"),
    "stage_button": ("Stage", "预备"),
    "stock": ("stock {stock}", "库存 {stock}"),
    "sold_out": ("Sold out", "售罄"),
    "put_on_air_done": ("On air: {name}", "已上屏：{name}"),
    "cleared": ("Product card cleared", "商品卡片已下屏"),
    "sending": ("Going on air →", "上屏中 →"),
    "tap_confirmed": ("Studio confirmed →", "直播间已确认 →"),
    # staging (preview / program)
    "next_up": ("Next up (preview)", "预备上屏（预览）"),
    "next_product": ("Product", "商品"),
    "layout": ("Layout", "版式"),
    "layout_auto": ("Auto", "自动"),
    "layout_landscape": ("Landscape", "横屏"),
    "layout_portrait": ("Portrait", "竖屏"),
    "promo": ("Promotion", "促销"),
    "promo_none": ("None", "无"),
    "promo_countdown": ("Flash-sale countdown", "限时秒杀倒计时"),
    "promo_coupon": ("Coupon", "优惠券"),
    "promo_sold_out": ("Sold out", "已售罄"),
    "countdown_minutes": ("Countdown minutes", "倒计时（分钟）"),
    "coupon_code": ("Coupon code", "优惠码"),
    "coupon_missing": ("Enter a coupon code first", "请先填写优惠码"),
    "coupon_discount": ("Percent off at checkout (0 = code only)", "下单立减百分比（0 = 仅展示优惠码）"),
    "flash_price": ("Flash-sale price per unit (0 = list price)", "秒杀价（每件，0 = 原价）"),
    "flash_limit": ("Limit per buyer (0 = no limit)", "每人限购件数（0 = 不限）"),
    "take": ("Take / put on air", "切换上屏"),
    "preview_caption": ("What viewers will see after Take", "切换后观众看到的画面"),
    "preview_unavailable": ("Preview not available: {error}", "无法预览：{error}"),
    # live figures
    "live_now": ("Live now", "实时数据"),
    "viewers_now": ("Viewers now", "在线观众"),
    "orders": ("Orders", "订单"),
    "revenue": ("Revenue", "销售额"),
    "units": ("Units", "件数"),
    "publishing": ("Phone camera live", "手机推流中"),
    "uplink_off": ("Phone camera not connected", "手机未推流"),
    "reconnects_n": ("{n} reconnects", "重连 {n} 次"),
    "recent_orders": ("Latest orders", "最新订单"),
    "no_orders_yet": ("No orders yet", "暂无订单"),
    "order_burst": (
        (
            "Order burst: {n} orders in the last minute from {phones} phone numbers. Check them for fakes; "
            "cancel a fake order below and its stock comes back."
        ),
        "订单激增：最近一分钟有 {n} 笔订单（{phones} 个手机号）。请检查是否有虚假订单，可在下方取消，库存会自动退回。",
    ),
    "cancel_pick": ("Cancel an order", "取消订单"),
    "cancel_button": ("Cancel order", "取消该订单"),
    "cancel_done": ("Order cancelled; its stock is back", "订单已取消，库存已退回"),
    "col_time": ("Time", "时间"),
    "col_product": ("Product", "商品"),
    "col_quantity": ("Qty", "数量"),
    "col_total": ("Total", "金额"),
    # phone and preview
    "phone_camera": ("Phone camera", "手机摄像头"),
    "phone_scan": (
        (
            "Scan with the farmer's phone: the camera page opens already paired, no key to type. "
            "The code works once, for 10 minutes."
        ),
        "用农户手机扫码：直接打开已配对的推流页面，无需输入密钥。二维码只能用一次，10 分钟内有效。",
    ),
    "pair_until": ("QR valid until {time}", "二维码 {time} 前有效"),
    "pair_new": ("New QR code", "重新生成二维码"),
    "pair_unpair": ("Unpair all phones", "解除所有手机配对"),
    "pair_unpaired": ("{n} phones unpaired: each must scan a new QR", "已解除 {n} 部手机的配对，需重新扫码"),
    # loud alerts
    "alert_sound": ("Alarm sound", "报警声音"),
    "alert_sound_help": (
        "Beep in this browser while the phone is dropped (red).", "手机断线（红色警报）时，在本浏览器中发出提示音。"
    ),
    "auto_hold": ("Hold slate by itself", "自动切换等待画面"),
    "auto_hold_help": (
        (
            "While the phone's picture is unusable (under 5 fps for 3 s) viewers see the hold slate with "
            "the product and its QR; the camera comes back after 3 good seconds."
        ),
        "手机画面无法使用时（连续 3 秒低于 5 帧/秒），观众看到带商品和二维码的等待画面；网络恢复 3 秒后切回摄像头。",
    ),
    "holding_now": (
        "The studio is holding the slate: the phone's picture is unusable", "手机画面不可用，已自动切换到等待画面"
    ),
    "drops_n": ("{n} drops", "断线 {n} 次"),
    # the recap after 下播
    "recap_title": ("Show recap: {title}", "本场回顾：{title}"),
    "recap_duration": ("Duration", "直播时长"),
    "recap_peak": ("Peak viewers", "最高在线"),
    "recap_orders": ("Orders this show", "本场订单"),
    "recap_gmv": ("GMV this show", "本场成交额"),
    "recap_top": ("Top product", "销量冠军"),
    "recap_no_sales": ("No sales", "暂无成交"),
    "recap_analytics": ("Open the full analytics", "查看完整数据"),
    "recap_close": ("Close recap", "关闭回顾"),
    "live_preview": ("Live preview", "直播预览"),
    "open_watch": ("Open the viewer page", "打开观众页面"),
    "preview_opening": ("Opening the live preview…", "正在打开直播预览…"),
    "later_loading": (
        "Figures, comments, phone pairing and simulcast follow in a moment…",
        "数据、评论、手机配对和多平台推流马上显示…",
    ),
    "later_now": ("Show now", "立即显示"),
    "preview_on": ("Show", "显示"),
    "preview_counts": (
        "The preview plays the show as viewers get it; it is not counted as a viewer.",
        "预览播放观众看到的画面，不计入观众人数。",
    ),
    # catalog
    "catalog_intro": (
        "Edit cells, add rows at the bottom, then Save. To stop selling a product, untick Active.",
        "直接修改表格，在底部添加新行，然后点击保存。停售请取消勾选“在售”。",
    ),
    "save": ("Save changes", "保存修改"),
    "discard": ("Discard changes", "放弃修改"),
    "nothing_to_save": ("No changes to save", "没有需要保存的修改"),
    "saved": ("Saved: {created} new, {updated} updated", "已保存：新增 {created}，更新 {updated}"),
    "not_saved": ("Nothing saved: fix these rows first", "未保存：请先修改以下行"),
    "sku_renamed": (
        "sku cannot be changed (it is printed on buy links); add a new row instead",
        "商品编号不能修改（已用于购买链接），请新增一行",
    ),
    "col_sku": ("SKU", "商品编号"),
    "col_name": ("Name (English)", "英文名"),
    "col_name_zh": ("Name (中文)", "中文名"),
    "col_description": ("Description", "描述"),
    "col_price": ("Price", "价格"),
    "col_currency": ("Currency", "币种"),
    "col_unit": ("Unit", "规格"),
    "col_stock": ("Stock", "库存"),
    "col_origin": ("Origin", "产地"),
    "col_image": ("Image", "图片"),
    "col_buy_url": ("Shop link", "购买链接"),
    "col_active": ("Active", "在售"),
    "col_max_per_order": ("Max per order", "每单限购"),
    "col_row": ("Row", "行"),
    "col_field": ("Column", "列"),
    "col_problem": ("Problem", "问题"),
    "import_csv": ("Import a catalog CSV", "导入商品 CSV"),
    "import_button": ("Check and import", "检查并导入"),
    "export_csv": ("Download catalog CSV", "下载商品 CSV"),
    # analytics
    "pick_show": ("Show", "直播场次"),
    "no_shows": (
        "No shows yet. Go live, or record a demo show: `farmlive simulate --viewers 500 --minutes 30`.",
        "还没有直播记录。开播，或生成演示数据：`farmlive simulate --viewers 500 --minutes 30`。",
    ),
    "show_live_so_far": ("Live now: figures so far", "直播中：截至目前的数据"),
    "unique_viewers": ("Unique viewers", "观众人数"),
    "peak_concurrent": ("Peak concurrent", "最高同时在线"),
    "peak_at": ("at {time}", "出现在 {time}"),
    "avg_watch": ("Average watch", "平均观看"),
    "median_watch": ("Median watch", "观看中位数"),
    "gmv": ("GMV", "成交额"),
    "buyers": ("Buyers", "买家"),
    "gpm": ("GPM (GMV / 1000 viewers)", "千次观看成交额"),
    "revenue_per_viewer": ("Revenue per viewer", "人均成交额"),
    "duration": ("Duration", "时长"),
    "timeline": ("Timeline", "时间线"),
    "timeline_viewers": ("Viewers", "在线人数"),
    "timeline_bitrate": ("Uplink kbps", "上行码率"),
    "timeline_order": ("Order", "订单"),
    "timeline_caption": (
        (
            "Bands: product on air · line: viewers · dots: orders · grey/orange bars: comments/wants per minute · "
            "purple: lucky draws · ticks: drop-offs and what was on air · below: phone uplink, red = disconnect · "
            "times in {zone}"
        ),
        (
            "色块：上屏商品 · 曲线：在线人数 · 圆点：订单 · 灰/橙柱：每分钟评论/想要 · 紫色：福袋 · "
            "竖标：观众流失及当时讲解的商品 · 下方：手机上行码率，红线为断线 · 时区 {zone}"
        ),
    ),
    "timeline_comments": ("Comments / min", "每分钟评论"),
    "timeline_wants": ("Wants / min", "每分钟想要"),
    "timeline_draw": ("Lucky draw", "福袋"),
    "timeline_drop": ("Viewers left", "观众流失"),
    "timeline_no_product": ("nothing on air", "未讲解商品"),
    "simulated_badge": ("simulated · 模拟", "模拟 · simulated"),
    "simulated_note": (
        (
            "Simulated show (farmlive simulate): demo data, never counted in a real show's figures or in totals "
            "across shows."
        ),
        "模拟直播（farmlive simulate）：演示数据，不计入真实直播的数据，也不计入多场汇总。",
    ),
    "orders_by_channel": ("Orders by channel", "各渠道订单"),
    "channel_funnel": ("Funnel by channel", "分渠道转化"),
    "coupons": ("Coupons and discounts", "优惠券与优惠"),
    "coupon_summary": (
        "{orders:,} orders with a coupon · {discount} given off list prices",
        "用券订单 {orders:,} 单 · 共优惠 {discount}",
    ),
    "no_coupons": ("No coupons or promo prices in this show.", "本场没有使用优惠券或活动价。"),
    "via_scan": ("QR scan", "扫码"),
    "via_click": ("Buy button", "购买按钮"),
    "via_shelf": ("Shelf (小黄车)", "小黄车"),
    "via_draw": ("Lucky draw", "福袋"),
    "via_replay": ("Replay", "回放"),
    "via_unknown": ("Platform import / unknown", "平台导入 / 未知"),
    "col_people": ("People", "人数"),
    "col_buyers": ("Buyers", "买家"),
    "col_share_revenue": ("Share of revenue", "销售额占比"),
    "col_coupon": ("Coupon", "优惠券"),
    "col_discount": ("Discount given", "优惠金额"),
    "col_comments": ("Comments", "评论"),
    "col_wants": ("Wants", "想要"),
    "no_coupon": ("(promo price, no coupon)", "（活动价，未用券）"),
    "product_table": ("Products", "商品表现"),
    "funnel": ("Funnel", "转化漏斗"),
    "retention": ("Retention", "观众留存"),
    "retention_minute": ("Minute", "分钟"),
    "retention_share": ("Still watching", "仍在观看"),
    "stage_viewers": ("Viewers", "观众"),
    "stage_engaged": ("Engaged (≥ 30 s)", "停留 ≥ 30 秒"),
    "stage_scanned": ("Scanned or clicked", "扫码或点击"),
    "stage_ordered": ("Ordered", "下单"),
    "col_on_air": ("On air", "上屏时长"),
    "col_viewers_present": ("Viewers present", "在场观众"),
    "col_scans": ("Scans", "扫码"),
    "col_clicks": ("Clicks", "点击"),
    "col_orders": ("Orders", "订单"),
    "col_units": ("Units", "件数"),
    "col_revenue": ("Revenue", "销售额"),
    "col_conversion": ("Conversion", "转化率"),
    "col_revenue_per_min": ("Revenue / on-air min", "每分钟销售额"),
    "col_stage": ("Stage", "环节"),
    "col_share_prev": ("of previous", "占上一步"),
    "col_share_all": ("of viewers", "占观众"),
    "download_report": ("Download report", "下载报告"),
    "report_html": ("HTML report", "HTML 报告"),
    "report_csv": ("CSV (products)", "CSV（商品表）"),
    "report_xlsx": ("Excel workbook", "Excel 工作簿"),
    "channels": ("Live and replay", "直播与回放"),
    "channel_live": ("Live", "直播"),
    "channel_replay": ("Replay", "回放"),
    "col_channel": ("Channel", "渠道"),
    "col_viewers": ("Viewers", "观众"),
    "col_gmv": ("GMV", "成交额"),
    "replayed_chapters": ("Most-replayed chapters", "回放最多的章节"),
    "col_chapter": ("Chapter", "章节"),
    "col_starts": ("Starts", "开始"),
    "col_replay_viewers": ("Replay viewers", "回放人数"),
    "col_replay_time": ("Replay watch time", "回放时长"),
    "no_replays_yet": ("Nobody has watched the replay yet.", "还没有人看回放。"),
    "replay_link": ("Replay link to share: {url}", "回放链接（可分享）：{url}"),
    "make_clips": ("Make product clips", "生成商品短视频"),
    "clips_made": ("{count} clips in {folder}", "已生成 {count} 个短视频：{folder}"),
    "clips_refused": ("No clips: {reason}", "无法生成短视频：{reason}"),
    # reach: simulcast destinations on the Go live page
    "destinations": ("Simulcast to platforms", "多平台同步推流"),
    "destinations_none": (
        ("No platform yet: add WeChat Channels, Douyin, YouTube… below. "
        "While a show is live the studio pushes it to every enabled one."),
        "还没有推流平台：在下方添加视频号、抖音、YouTube 等。开播后会同时推流到所有已启用的平台。",
    ),
    "dest_add": ("Add a platform", "添加平台"),
    "dest_platform": ("Platform", "平台"),
    "dest_name": ("Name", "名称"),
    "dest_url": ("Push URL (rtmp:// or rtmps://)", "推流地址（rtmp:// 或 rtmps://）"),
    "dest_key": ("Stream key", "推流码"),
    "dest_key_help": (
        "Kept secret: stored only in the data folder (owner-only), shown as ****abcd.",
        "推流码保密：只保存在数据文件夹中（仅本人可读），显示为 ****abcd。",
    ),
    "dest_where": ("Where to find URL and key", "在哪里找到推流地址和推流码"),
    "dest_save": ("Add", "添加"),
    "dest_added": ("Added {name}", "已添加 {name}"),
    "dest_enabled": ("Push", "推流"),
    "dest_remove": ("Remove", "删除"),
    "dest_state_idle": ("idle", "未推流"),
    "dest_state_connecting": ("connecting", "连接中"),
    "dest_state_live": ("live", "直播中"),
    "dest_state_retrying": ("retrying", "重连中"),
    "dest_state_failed": ("failed", "失败"),
    "by_transport": ("WebRTC {webrtc:,} · HLS {hls:,}", "WebRTC {webrtc:,} · HLS {hls:,}"),
    "platforms_live": ("Platforms live (simulcast)", "各平台推流时段"),
    "col_from": ("From", "开始"),
    "col_until": ("Until", "结束"),
    "col_live_min": ("Live (min)", "推流时长（分钟）"),
    "platform_sales": ("Sales by platform", "各平台销售"),
    "platform_sales_caption": (
        ("A platform has a row of its own when its destination shows its own QR code (own QR). "
        "Own page: the /watch page, the replay and every platform showing the show's shared QR."),
        "推流目标开启“独立二维码”后，该平台单独一行。自有页面：/watch 观看页、回放，以及使用共用二维码的平台。",
    ),
    "dest_own_qr": ("Own QR code", "独立二维码"),
    "dest_own_qr_help": (
        ("This platform's picture shows a QR code of its own, so its scans and orders are counted apart "
        "(Analytics → Sales by platform). It costs one extra video encode."),
        "该平台画面显示专属二维码，单独统计其扫码和订单（数据分析 → 各平台销售）。需要多一路视频编码。",
    ),
    "dest_encode": (
        "own QR · encode {cpu:.0f}% of a core · {dropped:,} frames dropped",
        "独立二维码 · 编码占用 {cpu:.0f}% 个 CPU 核 · 丢帧 {dropped:,}",
    ),
    "dest_figures": (
        "{kbps:,.0f} kbps · up {uptime} · {reconnects} reconnects",
        "{kbps:,.0f} kbps · 已推 {uptime} · 重连 {reconnects} 次",
    ),
}


def translate(key: str, lang: str, **values: object) -> str:
    """The text for ``key`` in ``lang`` (``zh`` or ``en``), formatted with ``values``."""
    en, zh = TEXTS[key]
    text = zh if lang == "zh" else en
    return text.format(**values) if values else text
