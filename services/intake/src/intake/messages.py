"""Error codes of the citizen API and what they tell the citizen, in Vietnamese. Never the input itself."""

from __future__ import annotations

FieldError = dict[str, str]

# field -> what to say when it is required and missing
MISSING: dict[str, str] = {
    "title": "Vui lòng nhập tiêu đề phản ánh.",
    "content": "Vui lòng nhập nội dung phản ánh.",
    "category": "Vui lòng chọn chuyên mục.",
    "location": "Vui lòng cho biết địa điểm: chọn phường/xã hoặc đánh dấu vị trí trên bản đồ.",
    "location.lat": "Vui lòng cho biết vĩ độ của vị trí.",
    "location.lon": "Vui lòng cho biết kinh độ của vị trí.",
    "reporter": "Vui lòng nhập thông tin người phản ánh.",
    "reporter.full_name": "Vui lòng nhập họ và tên.",
    "reporter.phone": "Vui lòng nhập số điện thoại.",
    "reporter.address": "Vui lòng nhập địa chỉ liên hệ.",
    "reporter.cccd": "Vui lòng nhập số CCCD.",
    "reporter.email": "Vui lòng nhập địa chỉ email.",
    "rating": "Vui lòng chọn mức độ hài lòng.",
    "text": "Vui lòng nhập nội dung.",
}

# field -> (minimum, maximum) characters, for messages that say the limit
LENGTHS: dict[str, tuple[int, int]] = {
    "title": (5, 200),
    "content": (20, 5000),
    "reporter.full_name": (2, 100),
    "reporter.address": (1, 500),
    "location.address_text": (1, 500),
    "location.ward_name": (1, 200),
    "comment": (1, 2000),
    "reason": (10, 2000),
    "text": (10, 5000),
}

BY_CODE: dict[str, str] = {
    "missing": "Thông tin này là bắt buộc.",
    "contact_required": "Vui lòng cho biết số điện thoại hoặc email để cơ quan liên hệ và thông báo kết quả.",
    "location_required": MISSING["location"],
    "invalid_name": "Họ và tên chỉ gồm chữ cái (có dấu), khoảng trắng, dấu nháy và gạch nối.",
    "invalid_phone": "Số điện thoại không hợp lệ (ví dụ: 0912345678 hoặc +84912345678).",
    "invalid_cccd": "Số CCCD phải gồm đúng 12 chữ số.",
    "cccd_province": "Số CCCD không hợp lệ: ba chữ số đầu không phải mã tỉnh, thành phố.",
    "cccd_birth_year": "Số CCCD không hợp lệ: năm sinh không thể ở tương lai.",
    "invalid_email": "Địa chỉ email không hợp lệ.",
    "too_short": "Nội dung quá ngắn.",
    "too_long": "Nội dung quá dài.",
    "too_many": "Vượt quá số lượng cho phép.",
    "duplicate": "Một tệp được đính kèm hai lần.",
    "out_of_range": "Giá trị nằm ngoài phạm vi cho phép.",
    "unknown_category": "Chuyên mục không tồn tại. Vui lòng chọn một chuyên mục trong danh sách.",
    "inactive_category": "Chuyên mục này không còn tiếp nhận phản ánh. Vui lòng chọn chuyên mục khác.",
    "public_not_allowed": "Phản ánh thuộc chuyên mục này không được công khai; vui lòng chọn không công khai.",
    "unknown_ward": "Phường/xã không thuộc địa bàn tiếp nhận.",
    "outside_area": "Vị trí trên bản đồ nằm ngoài địa bàn tiếp nhận.",
    "in_future": "Thời điểm xảy ra sự việc không thể ở tương lai.",
    "too_old": "Sự việc đã xảy ra quá lâu, vượt quá thời hạn tiếp nhận phản ánh.",
    "invalid_datetime": "Thời điểm không đúng định dạng (ví dụ: 2026-11-27T08:30:00+07:00).",
    "channel_not_allowed": "Kênh tiếp nhận này không gửi phản ánh qua biểu mẫu (chỉ web hoặc ứng dụng).",
    "unknown_field": "Trường thông tin này không được hỗ trợ.",
    "field_not_allowed": "Trường thông tin này do hệ thống xác định, người gửi không được đặt.",
    "wrong_type": "Kiểu dữ liệu không đúng.",
    "invalid_rating": "Mức đánh giá phải là: hai_long, chap_nhan_duoc hoặc khong_hai_long.",
    "invalid": "Giá trị không hợp lệ.",
}


def field_error(field: str, code: str) -> FieldError:
    if code == "missing":
        return {"field": field, "code": code, "message": MISSING.get(field, BY_CODE["missing"])}
    if code in ("too_short", "too_long") and field in LENGTHS:
        low, high = LENGTHS[field]
        message = f"Cần ít nhất {low} ký tự." if code == "too_short" else f"Tối đa {high} ký tự."
        return {"field": field, "code": code, "message": message}
    return {"field": field, "code": code, "message": BY_CODE.get(code, BY_CODE["invalid"])}
